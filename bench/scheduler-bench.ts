import { schedule } from '../src/scheduler/engine.js';
import { aNode, aRequest, aSnapshot } from '../src/scheduler/testing/node-builder.js';

// npm run bench:scheduler
// Planning time of the pure engine for 10,000 tasks of one job, in-process, after warm-up.

const RUNS = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measure(label: string, nodes: number, nodeCpu: number, tasks: number): { label: string; medianMs: number; placed: number } {
  const snapshot = aSnapshot(Array.from({ length: nodes }, (_, i) => aNode().named(`n-${i}`).withCpu(nodeCpu).withMemory('1Ti')));
  const requests = aRequest().ofJob('bench').inGroup('bench').withCpu('100m').withMemory('16Mi').many(tasks);
  for (let i = 0; i < 3; i += 1) schedule(snapshot, requests, { seed: i });
  const times: number[] = [];
  let placed = 0;
  for (let i = 0; i < RUNS; i += 1) {
    const start = performance.now();
    const plan = schedule(snapshot, requests, { seed: i });
    times.push(performance.now() - start);
    placed = plan.assignments.length;
  }
  const result = { label, medianMs: Number(median(times).toFixed(2)), placed };
  console.log(`${label}: median ${result.medianMs} ms over ${RUNS} runs, ${placed}/${tasks} placed`);
  return result;
}

const results = [
  measure('10k tasks on 4 nodes, all fit', 4, 1000, 10_000),
  measure('10k tasks on 4 nodes of 4 cores (160 fit)', 4, 4, 10_000),
  measure('10k tasks on 50 nodes, all fit', 50, 1000, 10_000),
  measure('10k tasks on 1000 nodes, all fit', 1000, 100, 10_000),
];
console.log(JSON.stringify(Object.fromEntries(results.map((r) => [r.label, r.medianMs]))));
