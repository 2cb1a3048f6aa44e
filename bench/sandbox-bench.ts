import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AttemptAssignment } from '../src/protocol/messages.js';
import { ExecDriver } from '../src/agent/drivers/exec-driver.js';
import { probeSandbox, type SandboxMode } from '../src/agent/drivers/sandbox-probe.js';
import { tempDir } from '../test/harness/processes.js';

// npm run bench:sandbox [-- --attempts N]
// What the sandbox costs per attempt: N attempts of `true`, one after another, through the exec
// driver plain and under bubblewrap (directories, spawn, exit, clean-up). Last line JSON.

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function assignment(i: number): AttemptAssignment {
  return {
    attemptId: `bench.${i}.1`, epoch: 1, taskId: `bench.${i}`, jobId: 'bench', index: i, stage: 'main', stageIndex: i,
    command: ['true'], env: {}, cpuMillis: 100, memoryBytes: 64 * 2 ** 20, timeoutMs: null, killGraceMs: 1000,
  };
}

async function run(label: string, sandbox: SandboxMode, attempts: number): Promise<{ p50: number; p95: number; mean: number }> {
  const workRoot = tempDir(`sandbox-bench-${label}`);
  const driver = new ExecDriver({ workRoot, nodeName: 'bench', sandbox });
  const times: number[] = [];
  try {
    for (let i = 0; i < attempts; i += 1) {
      const started = performance.now();
      const outcome = await driver.start(assignment(i), { onStarted: () => undefined, onLog: () => undefined }).result;
      if (outcome.outcome !== 'succeeded') throw new Error(`${label} attempt ${i}: ${outcome.reason}`);
      times.push(performance.now() - started);
    }
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const result = { p50: percentile(sorted, 50), p95: percentile(sorted, 95), mean: times.reduce((a, b) => a + b, 0) / times.length };
  console.log(`${label.padEnd(10)} ${attempts} attempts of true: p50 ${result.p50.toFixed(1)} ms, p95 ${result.p95.toFixed(1)} ms, mean ${result.mean.toFixed(1)} ms`);
  return result;
}

async function main(): Promise<void> {
  const attempts = flag('attempts', 200);
  const dataDir = tempDir('sandbox-bench-agent');
  const probe = await probeSandbox({ hide: [dataDir], scratchDir: join(dataDir, 'probe') });
  if (!probe.ok) throw new Error(`cannot sandbox here: ${probe.problem}`);
  const plain = await run('plain', { kind: 'none' }, attempts);
  const boxed = await run('bwrap', { kind: 'bwrap', host: probe.host }, attempts);
  console.log(`sandbox adds ${(boxed.p50 - plain.p50).toFixed(1)} ms per attempt at the median`);
  console.log(JSON.stringify({ attempts, plainP50Ms: plain.p50, plainP95Ms: plain.p95, bwrapP50Ms: boxed.p50, bwrapP95Ms: boxed.p95, taskUser: probe.host.setpriv === null ? 'agent' : 'nobody' }));
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
