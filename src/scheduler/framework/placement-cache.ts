import { indexNodesByName } from './cycle-state.js';
import { type ClassBase, type ClassBuffers, classBaseBytes, classBuffersBytes, type PlacementClass } from './placement-class.js';
import type { SchedulerSnapshot } from './snapshot.js';

/**
 * Keeps placement classes across scheduling cycles, so a class that comes back next round
 * neither walks the whole fleet again (its base: what group-scoped plugins said) nor rebuilds
 * its heaps (only nodes whose allocation changed are re-checked). It is only valid while the
 * fleet is unchanged: the caller passes `snapshot.fleetVersion` and promises that the same
 * version means the same nodes in the same order with the same fields (allocations aside) and
 * the same policies. A new version empties the cache. Least recently used entries go first
 * once `maxBytes` is reached. The plans are the same with or without it.
 */
export class PlacementCache {
  private version: string | number | undefined;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private nameIndex: ReadonlyMap<string, number> | undefined;
  /** Class buffers free for reuse (from finished classes and evicted entries). */
  buffers: ClassBuffers[] = [];
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes = 256 * 2 ** 20) {}

  /** Node positions by name for a snapshot of the cached fleet, built once per version. */
  nodeIndexFor(snapshot: SchedulerSnapshot): ReadonlyMap<string, number> {
    if (snapshot.fleetVersion === undefined) return indexNodesByName(snapshot.nodes);
    this.checkVersion(snapshot.fleetVersion);
    this.nameIndex ??= indexNodesByName(snapshot.nodes);
    return this.nameIndex;
  }

  get(fleetVersion: string | number, key: string): ClassBase | undefined {
    this.checkVersion(fleetVersion);
    const entry = this.touch(key);
    if (entry === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    return entry.base;
  }

  set(fleetVersion: string | number, key: string, base: ClassBase): void {
    if (fleetVersion !== this.version) return;
    this.put(key, { base, bytes: classBaseBytes(base), kept: undefined });
  }

  /**
   * The class as the last cycle left it, if it was kept and its heaps were built with the same
   * seed (the tie-breaking order). It leaves the cache until `keepClass` puts it back.
   */
  takeClass(fleetVersion: string | number, key: string, seed: number): PlacementClass | undefined {
    this.checkVersion(fleetVersion);
    const entry = this.touch(key);
    const kept = entry?.kept;
    if (entry === undefined || kept === undefined || kept.seed !== seed) return undefined;
    this.hits += 1;
    this.put(key, { base: entry.base, bytes: classBaseBytes(entry.base), kept: undefined });
    return kept.cls;
  }

  keepClass(fleetVersion: string | number, key: string, seed: number, cls: PlacementClass): void {
    if (fleetVersion !== this.version) return;
    const old = this.entries.get(key);
    if (old?.kept !== undefined && old.kept.cls !== cls) this.recycle(old.kept.cls);
    // The out map holds a small object per full node.
    const bytes = classBaseBytes(cls.base) + classBuffersBytes(cls.buffers) + cls.outSize * 64;
    this.put(key, { base: cls.base, bytes, kept: { cls, seed } });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    for (const entry of this.entries.values()) if (entry.kept !== undefined) this.recycle(entry.kept.cls);
    this.entries.clear();
    this.bytes = 0;
    this.nameIndex = undefined;
  }

  private put(key: string, entry: Entry): void {
    if (entry.bytes > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    if (this.bytes <= this.maxBytes) return;
    // Kept heaps are large and quick to rebuild from a base; bases are small and costly (a walk
    // over the fleet). So drop the least recently used heaps first, and whole entries only then.
    for (const [oldest, evicted] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      if (evicted.kept === undefined || oldest === key) continue;
      this.recycle(evicted.kept.cls);
      const bytes = classBaseBytes(evicted.base);
      this.bytes -= evicted.bytes - bytes;
      this.entries.set(oldest, { base: evicted.base, bytes, kept: undefined });
    }
    for (const [oldest, evicted] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      this.entries.delete(oldest);
      this.bytes -= evicted.bytes;
      if (evicted.kept !== undefined) this.recycle(evicted.kept.cls);
    }
  }

  /** The entry, moved to the most recently used end of the Map's order. */
  private touch(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  private recycle(cls: PlacementClass): void {
    // A few spare sets are enough: a cycle builds classes one after another.
    if (this.buffers.length < 8) this.buffers.push(cls.buffers);
  }

  private checkVersion(fleetVersion: string | number): void {
    if (fleetVersion === this.version) return;
    this.clear();
    this.version = fleetVersion;
  }
}

interface Entry {
  readonly base: ClassBase;
  readonly bytes: number;
  readonly kept: { readonly cls: PlacementClass; readonly seed: number } | undefined;
}
