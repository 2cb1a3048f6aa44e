import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../src/core/types.js';
import { startAgent, startServer, tempDir, waitForJobEnd, waitForReadyNodes, type Proc } from '../test/harness/processes.js';
import { topSelfTime } from './cpu-profile.js';

// npm run bench:dispatch [-- --tasks N --agents N --profile]
// 10,000 tasks running `true` through 4 local agents. Prints throughput from submit to last
// result, submit-to-start latency percentiles and the control plane's peak RSS; last line JSON.

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Peak resident set (VmHWM) of a live process, in MiB. */
function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function main(): Promise<void> {
  const taskCount = flag('tasks', 10_000);
  const agentCount = flag('agents', 4);
  const profile = process.argv.includes('--profile');
  const profileDir = tempDir('profile');
  const server = await startServer({
    nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  const agents: Proc[] = [];
  try {
    for (let i = 0; i < agentCount; i += 1) {
      agents.push(startAgent(server.url, server.joinToken, { name: `bench-${i}`, cpu: '4', memory: '16Gi' }));
    }
    await waitForReadyNodes(server.client, agentCount);
    console.log(`control plane ${server.url}, ${agentCount} agents ready; submitting ${taskCount} tasks of \`true\``);

    const submittedAt = Date.now();
    // 0.1 cpu per task on 4-core agents: up to 40 processes per agent at once.
    const job = await server.client.submitJob({ name: 'dispatch-bench', tasks: taskCount, command: ['true'], resources: { cpu: 0.1, memory: '16Mi' } });
    const acceptedAt = Date.now();
    const done = await waitForJobEnd(server.client, job.id, 600_000);
    const tasks: TaskRecord[] = await server.client.allTasks(job.id);
    const lastFinish = Math.max(...tasks.map((t) => t.finishedAt ?? 0));
    const seconds = (lastFinish - submittedAt) / 1000;
    const startLatencies = tasks.map((t) => (t.startedAt ?? Number.NaN) - job.createdAt).filter(Number.isFinite).sort((a, b) => a - b);
    const rss = peakRssMiB(server.child.pid!);

    const figures = {
      tasks: taskCount,
      agents: agentCount,
      state: done.state,
      succeeded: done.counts.succeeded,
      submitMs: acceptedAt - submittedAt,
      seconds: Number(seconds.toFixed(2)),
      tasksPerSecond: Math.round(taskCount / seconds),
      submitToStartP50Ms: percentile(startLatencies, 50),
      submitToStartP99Ms: percentile(startLatencies, 99),
      controlPlanePeakRssMiB: Math.round(rss),
    };
    console.log(`job ${job.id}: ${done.state}, ${done.counts.succeeded}/${taskCount} succeeded`);
    console.log(`submit accepted in ${figures.submitMs} ms; last result after ${figures.seconds} s: ${figures.tasksPerSecond} tasks/s`);
    console.log(`submit-to-start latency p50 ${figures.submitToStartP50Ms} ms, p99 ${figures.submitToStartP99Ms} ms`);
    console.log(`control plane peak RSS ${figures.controlPlanePeakRssMiB} MiB`);

    await Promise.all(agents.map((a) => a.kill()));
    await server.kill('SIGINT');
    if (profile) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        console.log(`control plane CPU profile: ${join(profileDir, file)}; top self time:`);
        for (const spot of topSelfTime(join(profileDir, file))) console.log(`  ${(spot.share * 100).toFixed(1).padStart(5)}%  ${String(spot.selfMs).padStart(6)} ms  ${spot.fn}`);
      }
    }
    console.log(JSON.stringify(figures));
  } finally {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server.kill('SIGKILL');
  }
}

await main();
