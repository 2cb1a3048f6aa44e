import { indexNodesByName } from './cycle-state.js';
import { type ClassBase, type ClassBuffers, classBaseBytes } from './placement-class.js';
import type { SchedulerSnapshot } from './snapshot.js';

/**
 * Keeps what group-scoped plugins computed for each placement class across scheduling cycles,
 * so a class that comes back next round skips the walk over the whole fleet. It is only valid
 * while the fleet is unchanged: the caller passes `snapshot.fleetVersion` and promises that the
 * same version means the same nodes in the same order with the same fields (allocations aside)
 * and the same policies. A new version empties the cache. Least recently used entries go first
 * once `maxBytes` is reached. The plans are the same with or without it.
 */
export class PlacementCache {
  private version: string | number | undefined;
  private readonly entries = new Map<string, { base: ClassBase; bytes: number }>();
  private bytes = 0;
  private nameIndex: ReadonlyMap<string, number> | undefined;
  /** Class buffers handed back by the last cycle, for the next one to reuse. */
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
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    // Re-insert so Map order is least recently used first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.base;
  }

  set(fleetVersion: string | number, key: string, base: ClassBase): void {
    if (fleetVersion !== this.version) return;
    const bytes = classBaseBytes(base);
    if (bytes > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.bytes -= old.bytes;
    this.entries.set(key, { base, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    this.nameIndex = undefined;
  }

  private checkVersion(fleetVersion: string | number): void {
    if (fleetVersion === this.version) return;
    this.clear();
    this.version = fleetVersion;
  }
}
