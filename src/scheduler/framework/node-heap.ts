// A binary max-heap of node indices, ordered by a key array the owner updates (higher first),
// then by a fixed per-node rank (lower first) so equal keys come out in a seeded, stable order.
// The runtime keeps one per placement class and domain: the best node is the top, so placing a
// task costs O(log n) instead of a walk over every feasible node. It records each node's
// position in `pos` (-1 when absent), so a node whose key changed between cycles can be moved
// or removed in O(log n) without rebuilding the heap.

export class NodeHeap {
  private count = 0;

  /**
   * `items` is the heap's storage, with room for every node it may hold (it may be a view of a
   * pooled array); `pos` is indexed by node and may be shared by the heaps of one class.
   */
  constructor(
    private readonly items: Int32Array,
    private readonly key: Float64Array,
    private readonly rank: Int32Array,
    private readonly pos: Int32Array,
  ) {}

  get size(): number {
    return this.count;
  }

  peek(): number {
    return this.count === 0 ? -1 : this.items[0]!;
  }

  has(index: number): boolean {
    return this.pos[index]! >= 0;
  }

  /** Adds without ordering; call `heapify` once after the last `append`. */
  append(index: number): void {
    this.place(index, this.count++);
  }

  heapify(): void {
    for (let i = (this.count >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  push(index: number): void {
    this.place(index, this.count);
    this.siftUp(this.count++);
  }

  pop(): number {
    if (this.count === 0) return -1;
    const top = this.items[0]!;
    this.removeAt(0);
    return top;
  }

  /** Takes a node out wherever it is. */
  remove(index: number): void {
    const at = this.pos[index]!;
    if (at >= 0) this.removeAt(at);
  }

  /** The node's key changed either way: move it to its place. */
  update(index: number): void {
    const at = this.pos[index]!;
    if (at < 0) return;
    this.siftUp(at);
    this.siftDown(this.pos[index]!);
  }

  /** The top's key went down (the runtime re-scored it): move it to its place. */
  topDecreased(): void {
    this.siftDown(0);
  }

  /** Node indices in heap order (not sorted); for tests and checks. */
  toArray(): number[] {
    return Array.from(this.items.subarray(0, this.count));
  }

  private removeAt(at: number): void {
    const gone = this.items[at]!;
    this.pos[gone] = -1;
    this.count -= 1;
    if (at === this.count) return;
    // The last item fills the hole and may belong above or below it.
    const moved = this.items[this.count]!;
    this.place(moved, at);
    this.siftUp(at);
    if (this.pos[moved] === at) this.siftDown(at);
  }

  private place(index: number, at: number): void {
    this.items[at] = index;
    this.pos[index] = at;
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
      this.place(items[parent]!, at);
      at = parent;
    }
    this.place(item, at);
  }

  private siftDown(at: number): void {
    const { items, count } = this;
    const item = items[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= count) break;
      if (child + 1 < count && this.before(items[child + 1]!, items[child]!)) child += 1;
      if (!this.before(items[child]!, item)) break;
      this.place(items[child]!, at);
      at = child;
    }
    this.place(item, at);
  }
}
