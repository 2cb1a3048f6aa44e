/**
 * Pending tasks, kept per job in submission order. A scheduling round takes a bounded number
 * of them, shared across jobs and starting from a different job each round, so a job whose
 * tasks cannot be placed never hides the jobs queued behind it.
 */
export class PendingQueue {
  private readonly byJob = new Map<string, Set<string>>();
  private readonly jobOf = new Map<string, string>();
  private rotation = 0;

  get size(): number {
    return this.jobOf.size;
  }

  has(taskId: string): boolean {
    return this.jobOf.has(taskId);
  }

  add(task: { readonly id: string; readonly jobId: string }): void {
    let set = this.byJob.get(task.jobId);
    if (!set) {
      set = new Set();
      this.byJob.set(task.jobId, set);
    }
    set.add(task.id);
    this.jobOf.set(task.id, task.jobId);
  }

  delete(taskId: string): void {
    const jobId = this.jobOf.get(taskId);
    if (jobId === undefined) return;
    this.jobOf.delete(taskId);
    const set = this.byJob.get(jobId);
    set?.delete(taskId);
    if (set?.size === 0) this.byJob.delete(jobId);
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const set of this.byJob.values()) yield* set;
  }

  /**
   * Up to `budget` task ids accepted by `ready`, an equal share per job first, then whatever
   * budget the smaller jobs left over. Calls `skipped` for each id `ready` refused.
   */
  take(budget: number, ready: (taskId: string) => boolean): string[] {
    const jobs = [...this.byJob.values()];
    if (jobs.length === 0 || budget <= 0) return [];
    const start = this.rotation++ % jobs.length;
    const ordered = [...jobs.slice(start), ...jobs.slice(0, start)];
    const iterators = ordered.map((set) => set.values());
    const taken: string[] = [];
    let open = iterators.length;
    const exhausted = new Array<boolean>(iterators.length).fill(false);
    while (taken.length < budget && open > 0) {
      const share = Math.max(1, Math.floor((budget - taken.length) / open));
      for (let i = 0; i < iterators.length && taken.length < budget; i += 1) {
        if (exhausted[i]) continue;
        let got = 0;
        while (got < share && taken.length < budget) {
          const next = iterators[i]!.next();
          if (next.done) {
            exhausted[i] = true;
            open -= 1;
            break;
          }
          if (ready(next.value)) {
            taken.push(next.value);
            got += 1;
          }
        }
      }
    }
    return taken;
  }
}
