// A binary max-heap of node indices, ordered by a key array the owner updates (higher first),
// then by a fixed per-node rank (lower first) so equal keys come out in a seeded, stable order.
// The runtime keeps one per placement class and domain: the best node is the top, so placing a
// task costs O(log n) instead of a walk over every feasible node.

export class NodeHeap {
  private count = 0;

  /** `items` is the heap's storage: room for every node it may hold (it may be a pooled view). */
  constructor(
    private readonly items: Int32Array,
    private readonly key: Float64Array,
    private readonly rank: Int32Array,
  ) {}

  get size(): number {
    return this.count;
  }

  peek(): number {
    return this.count === 0 ? -1 : this.items[0]!;
  }

  /** Adds without ordering; call `heapify` once after the last `append`. */
  append(index: number): void {
    this.items[this.count++] = index;
  }

  heapify(): void {
    for (let i = (this.count >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  push(index: number): void {
    this.items[this.count] = index;
    this.siftUp(this.count++);
  }

  pop(): number {
    if (this.count === 0) return -1;
    const top = this.items[0]!;
    this.count -= 1;
    if (this.count > 0) {
      this.items[0] = this.items[this.count]!;
      this.siftDown(0);
    }
    return top;
  }

  /** The top's key went down (the runtime re-scored it): move it to its place. */
  topDecreased(): void {
    this.siftDown(0);
  }

  /** Node indices in heap order (not sorted); for tests and checks. */
  toArray(): number[] {
    return Array.from(this.items.subarray(0, this.count));
  }

  private before(a: number, b: number): boolean {
    const ka = this.key[a]!;
    const kb = this.key[b]!;
    return ka > kb || (ka === kb && this.rank[a]! < this.rank[b]!);
  }

  private siftUp(at: number): void {
    const { items } = this;
    const item = items[at]!;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[at] = items[parent]!;
      at = parent;
    }
    items[at] = item;
  }

  private siftDown(at: number): void {
    const { items, count } = this;
    const item = items[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= count) break;
      if (child + 1 < count && this.before(items[child + 1]!, items[child]!)) child += 1;
      if (!this.before(items[child]!, item)) break;
      items[at] = items[child]!;
      at = child;
    }
    items[at] = item;
  }
}
