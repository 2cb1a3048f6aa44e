/**
 * Exponential backoff with full jitter (each wait uniform in [0, min(max, base * 2^n))), so a
 * fleet of agents that lost the control plane together does not reconnect in lockstep.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 200,
    private readonly maxMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    return Math.max(20, Math.round(this.random() * ceiling));
  }

  reset(): void {
    this.failures = 0;
  }
}
