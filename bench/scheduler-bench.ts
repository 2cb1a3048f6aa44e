import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PlacementCache, type PlacementRequest, schedule, type SchedulerSnapshot, type SnapshotNode, verifyPlan } from '../src/scheduler/engine.js';
import { jobRequests, jobTemplates, syntheticFleet, syntheticPolicies } from './synthetic-fleet.js';

// npm run bench:scheduler [-- --nodes 10000 --tasks 1000000 --jobs 1000]
//
// The pure engine over a synthetic world (bench/synthetic-fleet.ts): the tasks of `jobs` jobs are
// placed in rounds the way the server's scheduling loop takes them (up to `round` tasks from up
// to `jobs-per-round` jobs, rotating), each round on a snapshot that carries what earlier rounds
// reserved. Without --nodes it runs 1,000, 10,000 and 50,000 nodes, each in its own process so
// peak RSS is per fleet size. Prints placements/s, p99 time to place one task and peak RSS;
// the last line is JSON. Every plan is also replayed through verifyPlan, as the server does
// before committing; that check is timed apart (verifySeconds) and included in
// placementsPerSecondVerified.

const { values: flags } = parseArgs({
  options: {
    nodes: { type: 'string' },
    tasks: { type: 'string', default: '1000000' },
    jobs: { type: 'string', default: '1000' },
    templates: { type: 'string', default: '200' },
    round: { type: 'string', default: '10000' },
    'jobs-per-round': { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    'cache-mib': { type: 'string', default: '512' },
  },
});

const positive = (name: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number above 0, got ${JSON.stringify(value)}`);
  return n;
};

interface Result {
  readonly nodes: number;
  readonly tasks: number;
  readonly placed: number;
  readonly unplaced: number;
  readonly rounds: number;
  /** Tasks placed per second of engine time. */
  readonly placementsPerSecond: number;
  /** Tasks decided (placed or found unplaceable) per second of engine time. */
  readonly decisionsPerSecond: number;
  /** Tasks placed per second of engine time plus the plan check the server runs before commit. */
  readonly placementsPerSecondVerified: number;
  readonly p50TaskMicros: number;
  readonly p99TaskMicros: number;
  readonly p999TaskMicros: number;
  /** One round's engine time: the mean and the longest. */
  readonly meanRoundMillis: number;
  readonly maxRoundMillis: number;
  readonly verifySeconds: number;
  readonly maxTaskMillis: number;
  readonly scheduleSeconds: number;
  readonly wallSeconds: number;
  readonly peakRssMiB: number;
  readonly capacityScale: number;
  /** Placement classes served from the cache (kept heaps or bases) versus walked afresh. */
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly topWaitReasons: readonly string[];
}

function runOne(nodeCount: number): Result {
  const taskCount = positive('tasks', flags.tasks);
  const jobCount = Math.min(positive('jobs', flags.jobs), taskCount);
  const roundSize = positive('round', flags.round);
  const jobsPerRound = positive('jobs-per-round', flags['jobs-per-round']);
  const seed = positive('seed', flags.seed);
  const cacheBytes = positive('cache-mib', flags['cache-mib']) * 2 ** 20;
  const started = performance.now();

  const templates = jobTemplates(positive('templates', flags.templates), seed);
  const queues: PlacementRequest[][] = Array.from({ length: jobCount }, (_, j) => {
    const tasks = Math.floor(taskCount / jobCount) + (j < taskCount % jobCount ? 1 : 0);
    return jobRequests(`job-${j}`, templates[(j * 7919) % templates.length]!, tasks);
  });
  let fleet = syntheticFleet({ nodes: nodeCount, edgeSites: 1000, edgeShare: 0.15, seed });
  // Give the fleet room for every task (x1.25), so the figures are about placing, not refusing.
  const demand = queues.reduce((sum, q) => sum + q.length * (q[0]?.resources.cpuMillis ?? 0), 0);
  const supply = fleet.reduce((sum, n) => sum + n.capacity.cpuMillis, 0);
  const capacityScale = Math.max(1, Math.ceil((demand * 1.25) / supply));
  fleet = fleet.map((n) => ({ ...n, capacity: { cpuMillis: n.capacity.cpuMillis * capacityScale, memoryBytes: n.capacity.memoryBytes * capacityScale } }));
  const policies = syntheticPolicies();
  const cpu = new Float64Array(fleet.length);
  const memory = new Float64Array(fleet.length);
  const indexOf = new Map(fleet.map((n, i) => [n.name, i]));
  const placedByJob = new Map<string, Map<string, number>>();
  // As the server does: class work is kept across rounds while the fleet's fixed side is unchanged.
  const cache = new PlacementCache(cacheBytes);

  const timings = new Float64Array(taskCount);
  const waitReasons = new Map<string, number>();
  let timed = 0;
  let placed = 0;
  let unplaced = 0;
  let rounds = 0;
  let scheduleMs = 0;
  let verifyMs = 0;
  let maxRoundMs = 0;
  let rotation = 0;
  const cursor = new Int32Array(jobCount);
  let open = queues.filter((q) => q.length > 0).length;
  while (open > 0) {
    // Take up to `roundSize` tasks from up to `jobsPerRound` jobs, starting where the last round stopped.
    const requests: PlacementRequest[] = [];
    let served = 0;
    for (let k = 0; k < jobCount && served < jobsPerRound && requests.length < roundSize; k++) {
      const j = (rotation + k) % jobCount;
      const queue = queues[j]!;
      if (cursor[j]! >= queue.length) continue;
      const share = Math.ceil((roundSize - requests.length) / (jobsPerRound - served));
      const end = Math.min(queue.length, cursor[j]! + share);
      for (let i = cursor[j]!; i < end; i++) requests.push(queue[i]!);
      cursor[j] = end;
      if (end >= queue.length) open -= 1;
      served += 1;
      rotation = j + 1;
    }
    const nodes: SnapshotNode[] = fleet.map((n, i) => (cpu[i] === 0 && memory[i] === 0 ? n : { ...n, allocated: { cpuMillis: cpu[i]!, memoryBytes: memory[i]! } }));
    const snapshot: SchedulerSnapshot = { now: 1_700_000_000_000 + rounds, nodes, policies, placed: placedByJob, fleetVersion: 1 };
    const roundTimings = timings.subarray(timed, timed + requests.length);
    const t0 = performance.now();
    const plan = schedule(snapshot, requests, { seed, timings: roundTimings, cache });
    const t1 = performance.now();
    verifyPlan(snapshot, requests, plan);
    verifyMs += performance.now() - t1;
    scheduleMs += t1 - t0;
    maxRoundMs = Math.max(maxRoundMs, t1 - t0);
    timed += requests.length;
    rounds += 1;
    placed += plan.assignments.length;
    // A task no node takes would wait in the server; here it is counted and dropped.
    unplaced += plan.unplaced.length;
    for (const u of plan.unplaced) {
      const summary = u.message.replace(/^0\/\d+ nodes fit: /, '');
      waitReasons.set(summary, (waitReasons.get(summary) ?? 0) + 1);
    }
    const byId = new Map(requests.map((r) => [r.taskId, r]));
    for (const a of plan.assignments) {
      const index = indexOf.get(a.node)!;
      const request = byId.get(a.taskId)!;
      cpu[index]! += request.resources.cpuMillis;
      memory[index]! += request.resources.memoryBytes;
      if (request.placement.spread !== undefined) {
        const perNode = placedByJob.get(request.groupKey) ?? new Map<string, number>();
        perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);
        placedByJob.set(request.groupKey, perNode);
      }
    }
  }
  const sorted = Float64Array.from(timings.subarray(0, timed)).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    nodes: nodeCount, tasks: taskCount, placed, unplaced, rounds,
    placementsPerSecond: Math.round(placed / (scheduleMs / 1000)),
    decisionsPerSecond: Math.round((placed + unplaced) / (scheduleMs / 1000)),
    placementsPerSecondVerified: Math.round(placed / ((scheduleMs + verifyMs) / 1000)),
    topWaitReasons: [...waitReasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([why, n]) => `${n} tasks: ${why}`),
    p50TaskMicros: Number((at(0.5) * 1000).toFixed(1)),
    p99TaskMicros: Number((at(0.99) * 1000).toFixed(1)),
    p999TaskMicros: Number((at(0.999) * 1000).toFixed(1)),
    meanRoundMillis: Number((scheduleMs / rounds).toFixed(1)),
    maxRoundMillis: Number(maxRoundMs.toFixed(1)),
    verifySeconds: Number((verifyMs / 1000).toFixed(2)),
    maxTaskMillis: Number((sorted[sorted.length - 1] ?? 0).toFixed(2)),
    scheduleSeconds: Number((scheduleMs / 1000).toFixed(2)),
    wallSeconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    // maxRSS is in KiB on Linux.
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    capacityScale,
    cacheHits: cache.hits,
    cacheMisses: cache.misses,
  };
}

function describe(r: Result): string {
  return `${r.nodes.toLocaleString('en')} nodes, ${r.tasks.toLocaleString('en')} tasks in ${r.rounds} rounds: ${r.placementsPerSecond.toLocaleString('en')} placements/s ` +
    `(${r.placementsPerSecondVerified.toLocaleString('en')} with the plan check), ` +
    `p50 ${r.p50TaskMicros} µs, p99 ${r.p99TaskMicros} µs, p99.9 ${r.p999TaskMicros} µs, max ${r.maxTaskMillis} ms per task; ` +
    `round mean ${r.meanRoundMillis} ms, max ${r.maxRoundMillis} ms; ${r.placed.toLocaleString('en')} placed, ${r.unplaced} unplaced; ` +
    `engine ${r.scheduleSeconds} s + check ${r.verifySeconds} s of ${r.wallSeconds} s wall; peak RSS ${r.peakRssMiB} MiB; class cache ${r.cacheHits} hits, ${r.cacheMisses} misses${r.capacityScale > 1 ? `; node capacity x${r.capacityScale} to fit the tasks` : ''}` +
    r.topWaitReasons.map((line) => `\n  unplaced ${line}`).join('');
}

if (flags.nodes !== undefined) {
  const result = runOne(positive('nodes', flags.nodes));
  console.log(describe(result));
  console.log(JSON.stringify(result));
} else {
  const script = fileURLToPath(import.meta.url);
  const passOn = Object.entries(flags).flatMap(([name, value]) => (value === undefined ? [] : [`--${name}`, String(value)]));
  const results: Result[] = [];
  for (const nodes of [1_000, 10_000, 50_000]) {
    const output = execFileSync(process.execPath, [script, ...passOn, '--nodes', String(nodes)], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
    const lines = output.trim().split('\n');
    console.log(lines.slice(0, -1).join('\n'));
    results.push(JSON.parse(lines[lines.length - 1]!) as Result);
  }
  console.log(JSON.stringify(Object.fromEntries(results.map((r) => [`nodes${r.nodes}`, r]))));
}
