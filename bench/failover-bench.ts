import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { AtollClient } from '../src/client/client.js';
import type { EventRecord } from '../src/core/types.js';
import { startAgent, startServer, waitFor, waitForReadyNodes, type Proc, type ServerProc } from '../test/harness/processes.js';

// npm run bench:failover [-- --runs N --tasks N --task-seconds S]
// A real control plane (default heartbeat 1 s) and two agents on loopback. One job of 100 tasks
// (`sleep 3`, 0.1 cpu) runs entirely on agent A; then A is SIGKILLed. Measures how long until
// every task runs again on B and until the job has succeeded, plus a breakdown from the event
// log (unreachable, down, lost, placed, started). Fresh server and agents for each run; last
// line JSON.

const GOAL_MS = 3000;
const POLL_MS = 20;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

function summary(values: readonly (number | null)[]): { median: number | null; min: number | null; max: number | null } {
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return { median: null, min: null, max: null };
  return { median: median(known), min: Math.min(...known), max: Math.max(...known) };
}

/** A task process group the agent started, identified by pid and start time so a reused pid is never killed. */
interface TaskGroup {
  readonly pgid: number;
  readonly startTime: string;
}

function procStat(pid: number): { ppid: number; pgid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name sits in parentheses and may hold spaces; the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), pgid: Number(fields[2]), startTime: fields[19]! };
  } catch {
    // The process exited between listing /proc and reading its stat: there is nothing to report.
    return undefined;
  }
}

/** The process groups the agent's direct children lead (the agent runs each task in its own group). */
function taskGroupsOf(agentPid: number): TaskGroup[] {
  const groups: TaskGroup[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.ppid === agentPid && stat.pgid === Number(entry)) groups.push({ pgid: stat.pgid, startTime: stat.startTime });
  }
  return groups;
}

/** Kills the orphaned task groups of a killed agent that are still alive (normally none: their tasks are short). */
function killOrphans(groups: readonly TaskGroup[]): number {
  let killed = 0;
  for (const group of groups) {
    if (procStat(group.pgid)?.startTime !== group.startTime) continue;
    try {
      process.kill(-group.pgid, 'SIGKILL');
      killed += 1;
    } catch {
      // The group exited between the check and the kill (ESRCH): nothing is left to stop.
    }
  }
  return killed;
}

async function allEventsAfter(client: AtollClient, afterSeq: number): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  let after = afterSeq;
  for (;;) {
    const page = await client.listEvents({ after, limit: 10_000 });
    out.push(...page.items);
    if (page.items.length < 10_000) return out;
    after = page.items[page.items.length - 1]!.seq;
  }
}

async function lastSeq(client: AtollClient): Promise<number> {
  const events = await allEventsAfter(client, 0);
  return events.length === 0 ? 0 : events[events.length - 1]!.seq;
}

interface RunFigures {
  readonly toUnreachableMs: number | null;
  readonly toRunningElsewhereMs: number | null;
  readonly toCompleteMs: number | null;
  readonly jobState: string;
  readonly succeeded: number;
  /** From the event log, ms after the kill (server clock, same machine). */
  readonly events: {
    readonly unreachableMs: number | null;
    readonly downMs: number | null;
    readonly lostFirstMs: number | null;
    readonly lostLastMs: number | null;
    readonly placedFirstMs: number | null;
    readonly placedLastMs: number | null;
    readonly startedFirstMs: number | null;
    readonly startedLastMs: number | null;
  };
}

async function oneRun(run: number, taskCount: number, taskSeconds: number): Promise<RunFigures> {
  let server: ServerProc | undefined;
  const agents: Proc[] = [];
  let orphans: TaskGroup[] = [];
  try {
    server = await startServer();
    const client = server.client;
    const a = startAgent(server.url, server.joinToken, { name: 'failover-a', cpu: '16', memory: '16Gi' });
    agents.push(a);
    const b = startAgent(server.url, server.joinToken, { name: 'failover-b', cpu: '16', memory: '16Gi' });
    agents.push(b);
    await waitForReadyNodes(client, 2);
    // B is cordoned while the job is placed, so every task lands on A; it is uncordoned before the kill.
    await client.cordonNode('failover-b');

    const job = await client.submitJob({
      name: 'failover-bench',
      tasks: taskCount,
      command: ['sleep', String(taskSeconds)],
      resources: { cpu: '100m', memory: '16Mi' },
    });
    await waitFor(async () => {
      const tasks = await client.allTasks(job.id);
      return tasks.length === taskCount && tasks.every((t) => t.state === 'running' && t.node === 'failover-a') ? true : undefined;
    }, 30_000, `all ${taskCount} tasks running on A`);
    await client.uncordonNode('failover-b');
    await waitFor(async () => ((await client.getNode('failover-b')).state === 'ready' ? true : undefined), 10_000, 'B ready again');
    const seqBeforeKill = await lastSeq(client);
    orphans = taskGroupsOf(a.child.pid!);

    const killWall = Date.now();
    const killAt = performance.now();
    a.child.kill('SIGKILL');

    let toUnreachableMs: number | null = null;
    let toRunningElsewhereMs: number | null = null;
    let toCompleteMs: number | null = null;
    let jobState = 'unknown';
    let succeeded = 0;
    const deadline = killAt + 60_000 + taskSeconds * 1000;
    while (performance.now() < deadline) {
      const [node, tasks, current] = await Promise.all([
        toUnreachableMs === null ? client.getNode('failover-a') : Promise.resolve(undefined),
        toRunningElsewhereMs === null ? client.allTasks(job.id) : Promise.resolve(undefined),
        client.getJob(job.id),
      ]);
      const now = performance.now() - killAt;
      if (node && node.state !== 'ready') toUnreachableMs = now;
      if (tasks && tasks.length === taskCount && tasks.every((t) => (t.state === 'running' || t.state === 'succeeded') && t.node === 'failover-b')) {
        toRunningElsewhereMs = now;
      }
      jobState = current.state;
      succeeded = current.counts.succeeded;
      if (current.finishedAt !== null) {
        toCompleteMs = now;
        break;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }

    const events = await allEventsAfter(client, seqBeforeKill);
    const since = (e: EventRecord | undefined): number | null => (e === undefined ? null : e.time - killWall);
    const aState = (to: string) => events.find((e) => e.type === 'node.state_changed' && e.node === 'failover-a' && e.data['to'] === to);
    const ofType = (type: string, node: string) => events.filter((e) => e.type === type && e.node === node && e.jobId === job.id);
    const lost = ofType('attempt.lost', 'failover-a');
    const placed = ofType('task.placed', 'failover-b');
    const started = ofType('attempt.started', 'failover-b');
    const figures: RunFigures = {
      toUnreachableMs: toUnreachableMs === null ? null : Math.round(toUnreachableMs),
      toRunningElsewhereMs: toRunningElsewhereMs === null ? null : Math.round(toRunningElsewhereMs),
      toCompleteMs: toCompleteMs === null ? null : Math.round(toCompleteMs),
      jobState,
      succeeded,
      events: {
        unreachableMs: since(aState('unreachable')),
        downMs: since(aState('down')),
        lostFirstMs: since(lost[0]),
        lostLastMs: since(lost[lost.length - 1]),
        placedFirstMs: since(placed[0]),
        placedLastMs: since(placed[placed.length - 1]),
        startedFirstMs: since(started[0]),
        startedLastMs: since(started[started.length - 1]),
      },
    };
    const e = figures.events;
    console.log(
      `run ${run}: ${orphans.length} task process groups on A; job ${jobState} ${succeeded}/${taskCount}; after SIGKILL of A: unreachable ${figures.toUnreachableMs} ms, ` +
        `all running on B ${figures.toRunningElsewhereMs} ms, job done ${figures.toCompleteMs} ms ` +
        `(events: unreachable ${e.unreachableMs}, down ${e.downMs}, lost ${e.lostFirstMs}..${e.lostLastMs}, ` +
        `placed on B ${e.placedFirstMs}..${e.placedLastMs} (${placed.length}), started on B ${e.startedFirstMs}..${e.startedLastMs} (${started.length}))`,
    );
    return figures;
  } finally {
    await Promise.all(agents.map((p) => p.kill('SIGKILL')));
    await server?.kill('SIGKILL');
    const killed = killOrphans(orphans);
    if (killed > 0) console.log(`run ${run}: killed ${killed} leftover task process groups of A`);
  }
}

async function main(): Promise<void> {
  const runs = flag('runs', 3);
  const taskCount = flag('tasks', 100);
  const taskSeconds = flag('task-seconds', 3);
  console.log(`failover: ${runs} runs; ${taskCount} tasks of \`sleep ${taskSeconds}\` (0.1 cpu) on agent A, then A is SIGKILLed; default heartbeat 1 s`);
  const results: RunFigures[] = [];
  for (let run = 1; run <= runs; run += 1) results.push(await oneRun(run, taskCount, taskSeconds));
  const pick = (f: (r: RunFigures) => number | null) => summary(results.map(f));
  const figures = {
    runs,
    tasks: taskCount,
    taskSeconds,
    goalMs: GOAL_MS,
    toUnreachableMs: pick((r) => r.toUnreachableMs),
    toRunningElsewhereMs: pick((r) => r.toRunningElsewhereMs),
    toCompleteMs: pick((r) => r.toCompleteMs),
    eventsMs: {
      down: pick((r) => r.events.downMs),
      lostLast: pick((r) => r.events.lostLastMs),
      placedLast: pick((r) => r.events.placedLastMs),
      startedLast: pick((r) => r.events.startedLastMs),
    },
    allSucceeded: results.every((r) => r.jobState === 'succeeded' && r.succeeded === taskCount),
    withinGoal: results.every((r) => r.toRunningElsewhereMs !== null && r.toRunningElsewhereMs <= GOAL_MS),
  };
  console.log(JSON.stringify(figures));
}

await main();
