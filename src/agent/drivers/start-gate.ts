// At most `limit` holders at a time, served in arrival order. The exec driver holds one while a
// sandbox is being made: making namespaces is kernel work that a burst of tasks (80 placed in one
// round) does all at once otherwise, starving the agent itself of CPU long enough for its node to
// miss heartbeats and be declared down.

export class StartGate {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number >= 1, got ${limit}`);
  }

  /** Resolves with the function that gives the place back (calling it again does nothing). */
  async acquire(): Promise<() => void> {
    if (this.held < this.limit) this.held += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the place is handed over, held stays
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held -= 1;
    };
  }
}
