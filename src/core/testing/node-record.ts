import type { NodeRecord } from '../types.js';

/** A node record for tests: a ready 4-core node of aws in Frankfurt, 1 core in use by one attempt; `over` changes what the test is about. */
export function aNodeRecord(name: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name, provider: 'aws', region: 'eu-central-1', zone: 'a', site: '', kind: 'cloud', jurisdiction: 'DE', lat: 50, lon: 8,
    capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }, priceHour: 0, labels: {}, taints: [], rttMs: {}, state: 'ready', cordoned: false,
    drainDeadline: null, dataUrl: null, agentVersion: 'test', joinedAt: 0, lastSeenAt: 0, usage: { runningAttempts: 1, cpuMillis: 1000, memoryBytes: 0, loadAvg1: 0 },
    ...over,
  };
}
