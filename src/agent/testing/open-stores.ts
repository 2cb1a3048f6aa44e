import { afterEach } from 'vitest';
import { PartitionStore } from '../partition-store.js';

/**
 * For a test file: PartitionStore.open that remembers each store and closes them all after each
 * test, so no journal file handle is left for the garbage collector.
 */
export function closingStores(): (...args: Parameters<typeof PartitionStore.open>) => Promise<PartitionStore> {
  const open: PartitionStore[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
  });
  return async (...args) => {
    const store = await PartitionStore.open(...args);
    open.push(store);
    return store;
  };
}
