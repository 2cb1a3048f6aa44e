import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { AtollClient } from '../client/client.js';
import { readSpecFile } from '../client/spec-file.js';
import { AtollError } from '../core/errors.js';
import { readFleetFile } from './fleet-file.js';

/** bin/atoll.js, from dist/src/local/ at run time. */
export const ATOLL_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/atoll.js');

export interface UpOptions {
  readonly fleetFile: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly submitExample: boolean;
  readonly heartbeatMs?: number;
  readonly out?: (line: string) => void;
}

export interface LocalFleet {
  readonly url: string;
  readonly adminToken: string;
  readonly agents: ReadonlyMap<string, ChildProcess>;
  readonly exampleJobId: string | undefined;
  /** SIGTERM to every agent, then the server; resolves when all have exited. */
  stop(): Promise<void>;
}

/** Starts a control plane and one agent process per node of the fleet file, logs in <data-dir>/logs. */
export async function startLocalFleet(options: UpOptions): Promise<LocalFleet> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = resolve(options.dataDir);
  const { fleet, rawNodes } = await readFleetFile(options.fleetFile);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const children: { name: string; child: ChildProcess }[] = [];
  const launch = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess => {
    const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    // Own process group: Ctrl-C reaches `atoll up` alone, which then stops agents before the server.
    const child = spawn(process.execPath, [ATOLL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    children.push({ name, child });
    return child;
  };

  const server = launch('server', [
    'server', '--host', options.host, '--port', String(options.port), '--data-dir', dataDir,
    ...(options.heartbeatMs ? ['--heartbeat', `${options.heartbeatMs}ms`] : []),
  ]);
  const url = `http://${options.host}:${options.port}`;
  const stop = () => stopAll(server, children.map((c) => c.child).filter((c) => c !== server));
  try {
    await waitForHealth(url, server, join(logDir, 'server.log'));
  } catch (error) {
    await stop();
    throw error;
  }
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const joinToken = readFileSync(join(dataDir, 'join.token'), 'utf8').trim();
  out(`control plane  ${url}   (state in ${dataDir}, logs in ${logDir})`);

  const agents = new Map<string, ChildProcess>();
  fleet.nodes.forEach((node, i) => {
    const agentDir = join(dataDir, 'agents', node.name);
    mkdirSync(agentDir, { recursive: true, mode: 0o700 });
    const config = join(agentDir, 'node.yaml');
    writeFileSync(config, stringify(rawNodes[i]));
    // The token goes through the environment: command lines are visible to every user in `ps`.
    agents.set(node.name, launch(node.name, ['agent', '--server', url, '--data-dir', agentDir, '--config', config], { ATOLL_JOIN_TOKEN: joinToken }));
    out(`agent          ${node.name.padEnd(22)} ${node.provider}/${node.region}${node.site ? `/${node.site}` : ''} (${node.jurisdiction ?? '-'})`);
  });

  const client = new AtollClient({ server: url, token: adminToken });
  await waitForNodes(client, fleet.nodes.length, agents);
  let exampleJobId: string | undefined;
  if (options.submitExample && fleet.exampleJob) {
    const existing = await client.listJobs({ limit: 1 });
    if (existing.total === 0) {
      const file = resolve(dirname(options.fleetFile), fleet.exampleJob);
      const job = await client.submitJob(await readSpecFile(file));
      exampleJobId = job.id;
      out(`example job    ${job.id} (${job.taskCount} tasks from ${fleet.exampleJob})`);
    }
  }
  return { url, adminToken, agents, exampleJobId, stop };
}

async function waitForHealth(url: string, server: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
      throw new AtollError('unavailable', `the control plane exited (code ${server.exitCode}); last lines of ${logFile}:\n${log}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch (error) {
      if (!String((error as { cause?: { code?: string } }).cause?.code ?? '').startsWith('ECONN')) throw error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AtollError('unavailable', `the control plane did not answer on ${url} within 20s; see ${logFile}`);
}

async function waitForNodes(client: AtollClient, count: number, agents: ReadonlyMap<string, ChildProcess>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const dead = [...agents].filter(([, child]) => child.exitCode !== null).map(([name]) => name);
    if (dead.length > 0) throw new AtollError('unavailable', `agent(s) exited during start-up: ${dead.join(', ')}; see their logs`);
    const { items } = await client.listNodes({ state: 'ready' });
    if (items.filter((n) => agents.has(n.name)).length >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AtollError('unavailable', `not every agent joined within 20s; see the logs`);
}

/** SIGTERM agents first (so their last results reach the server), then the server; SIGKILL after 10 s. */
async function stopAll(server: ChildProcess, agents: readonly ChildProcess[]): Promise<void> {
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  const stopGroup = async (group: readonly ChildProcess[]) => {
    for (const child of group) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => group.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')), 10_000);
    await Promise.all(group.map(exited));
    clearTimeout(timer);
  };
  await stopGroup(agents);
  await stopGroup([server]);
}
