import type { AttemptAssignment } from '../../protocol/messages.js';

// The seam between the agent and whatever actually runs a task (a process today; containers,
// VMs or WASM later). The agent only ever talks to this interface, so a new driver never
// touches the agent's connection, journal or bookkeeping.

export type LogStream = 'stdout' | 'stderr';

export type DriverOutcomeKind = 'succeeded' | 'failed' | 'cancelled';

/** How an attempt ended. Mirrors the result fields of the protocol's AttemptResult. */
export interface DriverOutcome {
  readonly outcome: DriverOutcomeKind;
  /** The process's exit code; null when it never started or was killed by a signal. */
  readonly exitCode: number | null;
  /** Why it did not succeed, in words a user can act on (`exit code 3`, `timed out after 30s`); null on success. */
  readonly reason: string | null;
  /** When the task's process started (epoch ms); null when it never started. */
  readonly startedAt: number | null;
  readonly finishedAt: number;
}

/**
 * Callbacks a driver makes while an attempt runs. They are called synchronously from the
 * driver's event handlers, so they must not throw and should only queue work.
 */
export interface DriverHooks {
  /** The task's process exists now; called at most once, and never when it could not start. */
  onStarted(startedAt: number): void;
  /** Decoded text from the task; all calls happen before `result` resolves. */
  onLog(stream: LogStream, data: string): void;
}

export interface RunningAttempt {
  readonly attemptId: string;
  /**
   * Settles once the attempt is over and its resources are released. It never rejects:
   * a missing program, a crash or a timeout are outcomes, not errors.
   */
  readonly result: Promise<DriverOutcome>;
  /** Stop the attempt (gracefully first); the outcome becomes `cancelled` unless it already ended. Idempotent. */
  cancel(reason: string): void;
}

export interface Driver {
  /** Begin running an assignment. Never throws for problems with the task itself. */
  start(assignment: AttemptAssignment, hooks: DriverHooks): RunningAttempt;
}
