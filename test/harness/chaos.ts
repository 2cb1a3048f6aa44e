import { JurisdictionTable } from '../../src/core/jurisdictions.js';
import { seededRandom } from '../../src/scheduler/framework/random.js';
import type { EventRecord } from '../../src/core/types.js';
import { checkRun, type RunReport } from './chaos-checker.js';
import { FaultProxy } from './fault-proxy.js';
import { freePort, type AgentSpec, type Proc, type ServerProc, startAgent, startServer, tempDir, waitFor, waitForReadyNodes } from './processes.js';

// A seeded fault schedule against a real control plane and real agents on loopback. Every agent
// reaches the control plane through its own FaultProxy, so each can be partitioned, slowed or
// cut off alone. While one job with a residency constraint runs, the schedule SIGKILLs agents
// (and restarts them on their data dirs), SIGKILLs the control plane (and restarts it on its
// data dir and port), partitions agents and heals them. Then everything is healed, the job is
// awaited, and the event log is handed to the checker.

export interface ChaosOptions {
  readonly seed: number;
  readonly tasks: number;
  /** How long each task sleeps, in seconds: long enough for faults to catch work running. */
  readonly taskSeconds: number;
  /** After each kind of fault has run once, more are drawn until this long after the job was submitted. */
  readonly faultWindowMs: number;
  readonly log: (line: string) => void;
}

export interface ChaosResult {
  readonly seed: number;
  readonly faults: readonly string[];
  readonly report: RunReport;
  readonly elapsedMs: number;
}

/** The job may run only in the EU; the US and Singapore nodes are there to be avoided. */
const FLEET: readonly (AgentSpec & { readonly eu: boolean })[] = [
  { name: 'hetzner-fsn1', provider: 'hetzner', region: 'eu-central', jurisdiction: 'DE', geo: { lat: 50.5, lon: 12.4 }, eu: true },
  { name: 'aws-eu-central-1', provider: 'aws', region: 'eu-central-1', jurisdiction: 'DE', geo: { lat: 50.1, lon: 8.7 }, eu: true },
  { name: 'ovh-gra', provider: 'ovh', region: 'gra', jurisdiction: 'FR', geo: { lat: 50.99, lon: 2.3 }, eu: true },
  { name: 'aws-eu-west-1', provider: 'aws', region: 'eu-west-1', jurisdiction: 'IE', geo: { lat: 53.3, lon: -6.3 }, eu: true },
  { name: 'gcp-europe-west4', provider: 'gcp', region: 'europe-west4', jurisdiction: 'NL', geo: { lat: 53.4, lon: 6.8 }, eu: true },
  { name: 'aws-us-east-1', provider: 'aws', region: 'us-east-1', jurisdiction: 'US', geo: { lat: 38.9, lon: -77.4 }, eu: false },
  { name: 'azure-southeastasia', provider: 'azure', region: 'southeastasia', jurisdiction: 'SG', geo: { lat: 1.3, lon: 103.8 }, eu: false },
].map((spec) => ({ ...spec, cpu: '4', memory: '4Gi' }));

/** Timings short enough for a run in CI, the same shape as the defaults (3 and 1.5 heartbeats). */
const SERVER_FLAGS = ['--heartbeat', '200ms', '--unreachable-after', '600ms', '--lost-after', '300ms', '--restart-grace', '3s'];

type Fault = 'kill-agent' | 'kill-server' | 'partition' | 'drop' | 'delay';
/** Each kind at least once per run, in an order and with targets the seed picks; then more at random. */
const EVERY_FAULT: readonly Fault[] = ['kill-agent', 'kill-agent', 'kill-server', 'partition', 'partition', 'drop', 'delay'];

class Fleet {
  server!: ServerProc;
  readonly agents: (Proc & { dataDir: string })[] = [];
  readonly proxies: FaultProxy[] = [];
  private readonly dataDir = tempDir('chaos-server');
  private port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = await startServer({ dataDir: this.dataDir, port: this.port, extraArgs: SERVER_FLAGS });
    for (const spec of FLEET) {
      const proxy = await FaultProxy.start({ port: this.port, scheme: new URL(this.server.url).protocol === 'https:' ? 'https' : 'http' });
      this.proxies.push(proxy);
      this.agents.push(startAgent(proxy.url, this.server.joinToken, spec));
    }
    await waitForReadyNodes(this.server.client, FLEET.length);
  }

  async killAgent(i: number): Promise<void> {
    await this.agents[i]!.kill('SIGKILL');
  }

  /** The same node again: its data dir holds its credential, so no join token is needed. */
  restartAgent(i: number): void {
    const dead = this.agents[i]!;
    this.agents[i] = startAgent(this.proxies[i]!.url, '', FLEET[i]!, dead.dataDir);
  }

  async killServer(): Promise<void> {
    await this.server.kill('SIGKILL');
  }

  async restartServer(): Promise<void> {
    this.server = await startServer({ dataDir: this.dataDir, port: this.port, extraArgs: SERVER_FLAGS });
  }

  /** Heals every proxy and restarts any agent that is down. */
  async healAll(): Promise<void> {
    for (const proxy of this.proxies) proxy.heal();
    for (let i = 0; i < this.agents.length; i++) if (this.agents[i]!.child.exitCode !== null || this.agents[i]!.child.signalCode !== null) this.restartAgent(i);
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.kill('SIGKILL')));
    await this.server.kill('SIGKILL');
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const random = seededRandom(options.seed);
  const between = (min: number, max: number) => Math.round(min + random() * (max - min));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const euAgents = FLEET.flatMap((spec, i) => (spec.eu ? [i] : []));
  const fleet = new Fleet();
  const faults: string[] = [];
  const started = performance.now();
  const note = (line: string) => {
    const entry = `+${((performance.now() - started) / 1000).toFixed(1)}s ${line}`;
    faults.push(entry);
    options.log(entry);
  };
  try {
    await fleet.start();
    const job = await fleet.server.client.submitJob({
      name: 'chaos', tasks: options.tasks, command: ['sleep', String(options.taskSeconds)],
      resources: { cpu: '200m', memory: '16Mi' },
      placement: { residency: ['EU'] },
      // Generous: this run is about correctness under faults, not about the node-loss bound.
      retry: { nodeLosses: 50 },
    });
    const submittedAt = performance.now();

    const schedule = shuffled(EVERY_FAULT, random);
    // Every scheduled fault runs, and more follow at random until the window has passed.
    for (let i = 0; i < schedule.length || performance.now() - submittedAt < options.faultWindowMs; i++) {
      const fault = schedule[i] ?? pick(EVERY_FAULT);
      await sleep(between(300, 1200));
      const target = pick(euAgents);
      const name = FLEET[target]!.name;
      switch (fault) {
        case 'kill-agent': {
          note(`SIGKILL agent ${name}`);
          await fleet.killAgent(target);
          await sleep(between(300, 2000));
          note(`restart agent ${name}`);
          fleet.restartAgent(target);
          break;
        }
        case 'kill-server': {
          note('SIGKILL control plane');
          await fleet.killServer();
          await sleep(between(200, 1500));
          note('restart control plane');
          await fleet.restartServer();
          break;
        }
        case 'partition': {
          note(`partition ${name}`);
          fleet.proxies[target]!.blackhole();
          await sleep(between(500, 3000));
          note(`heal ${name}`);
          fleet.proxies[target]!.heal();
          break;
        }
        case 'drop': {
          note(`drop connections of ${name}`);
          fleet.proxies[target]!.drop();
          await sleep(between(200, 1000));
          note(`heal ${name}`);
          fleet.proxies[target]!.heal();
          break;
        }
        case 'delay': {
          const ms = between(50, 250);
          note(`delay ${name} by ${ms} ms`);
          fleet.proxies[target]!.delay(ms);
          await sleep(between(1000, 2500));
          note(`heal ${name}`);
          fleet.proxies[target]!.heal();
          break;
        }
      }
    }
    note('heal everything');
    await fleet.healAll();
    const client = fleet.server.client;
    await waitFor(async () => ((await client.getJob(job.id)).finishedAt !== null ? true : undefined), 180_000, `job ${job.id} to finish after the faults`);
    const events = await allEvents(fleet.server);
    const jurisdictionOf = new Map((await client.listNodes()).items.map((n) => [n.name, n.jurisdiction]));
    const report = checkRun(events, { jobId: job.id, taskCount: options.tasks, jurisdictionOf, allowed: new JurisdictionTable().expand(['EU']) });
    return { seed: options.seed, faults, report, elapsedMs: Math.round(performance.now() - started) };
  } finally {
    await fleet.stop();
  }
}

/** The whole event log, page by page. */
async function allEvents(server: ServerProc): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  for (;;) {
    const { items } = await server.client.listEvents({ after: events.at(-1)?.seq ?? 0, limit: 10_000 });
    if (items.length === 0) return events;
    events.push(...items);
  }
}

/** Fisher-Yates with the run's random source. */
function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
