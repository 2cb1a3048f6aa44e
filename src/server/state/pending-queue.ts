/**
 * Pending tasks, kept per job in submission order. A scheduling round takes a bounded number
 * of them from a bounded number of jobs, shared across those jobs and starting where the last
 * round stopped, so a job whose tasks cannot be placed never hides the jobs queued behind it.
 * The job bound keeps a round's cost in check: each job with its own placement rules costs the
 * engine a pass over the fleet, so a round over thousands of jobs would be slow for all of them.
 */
export class PendingQueue {
  private readonly byJob = new Map<string, Set<string>>();
  private readonly jobOf = new Map<string, string>();
  private rotation = 0;
  /** Jobs with pending tasks the last `take` did not look at because of its job bound. */
  jobsLeftOut = 0;
  /** Jobs the last `take` looked at. */
  jobsSeen = 0;

  get size(): number {
    return this.jobOf.size;
  }

  /** Jobs with at least one pending task. */
  get jobCount(): number {
    return this.byJob.size;
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
   * Up to `budget` task ids accepted by `ready`, from at most `maxJobs` jobs, an equal share
   * per job first, then whatever budget the smaller jobs left over. The next call starts with
   * the job after the last one this call looked at.
   */
  take(budget: number, ready: (taskId: string) => boolean, maxJobs = Number.POSITIVE_INFINITY): string[] {
    const all = [...this.byJob.values()];
    this.jobsLeftOut = 0;
    this.jobsSeen = 0;
    if (all.length === 0 || budget <= 0) return [];
    const start = this.rotation % all.length;
    const seen = Math.min(all.length, maxJobs);
    const jobs = [...all.slice(start), ...all.slice(0, start)].slice(0, seen);
    // Every job fits: start one later next time. Otherwise go on with the jobs left out.
    this.rotation = start + (seen === all.length ? 1 : seen);
    this.jobsSeen = seen;
    this.jobsLeftOut = all.length - seen;
    const iterators = jobs.map((set) => set.values());
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
