/** Injected wherever time matters, so the scheduler and state machine can be tested with a fixed clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
