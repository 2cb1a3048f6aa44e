import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { AtollClient } from '../client/client.js';
import { fetchTrusting } from '../client/tls-fetch.js';
import { readSpecFile } from '../client/spec-file.js';
import { AtollError } from '../core/errors.js';
import { readFleetFile } from './fleet-file.js';

/** bin/atoll.js, from dist/src/local/ at run time. */
export const ATOLL_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/atoll.js');
/** What `atoll server` prints once it listens (server-command.ts). */
const LISTENING = 'atoll control plane listening on ';
const START_TIMEOUT_MS = 20_000;

export interface UpOptions {
  readonly fleetFile: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly submitExample: boolean;
  readonly heartbeatMs?: number;
  readonly out?: (line: string) => void;
  /** A child exited on its own after start-up (the server, or an agent). */
  readonly onChildExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface FleetInfo {
  readonly url: string;
  readonly adminToken: string;
  readonly agents: readonly string[];
  readonly exampleJobId: string | undefined;
  /** A one-time link that opens the dashboard signed in as the admin. */
  readonly dashboard: string;
}

/**
 * A control plane and one agent process per node of the fleet file, logs in <data-dir>/logs.
 * `stop()` may be called at any moment, also while `start()` is still under way, and always
 * leaves no process behind.
 */
export class LocalFleet {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  /** Until start() has finished, a child that exits is start()'s error to report. */
  private started = false;
  private readonly dataDir: string;
  private readonly logDir: string;
  private readonly out: (line: string) => void;

  constructor(private readonly options: UpOptions) {
    this.dataDir = resolve(options.dataDir);
    this.logDir = join(this.dataDir, 'logs');
    this.out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  }

  async start(): Promise<FleetInfo> {
    try {
      const info = await this.startAll();
      this.started = true;
      return info;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** SIGTERM to every agent (so their last results reach the server), then the server; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    const server = this.children.get('server');
    await stopGroup([...this.children].filter(([name]) => name !== 'server').map(([, child]) => child));
    if (server) await stopGroup([server]);
  }

  private async startAll(): Promise<FleetInfo> {
    const { fleet, rawNodes } = await readFleetFile(this.options.fleetFile);
    mkdirSync(this.logDir, { recursive: true });
    const server = this.launch('server', [
      'server', '--host', this.options.host, '--port', String(this.options.port), '--data-dir', this.dataDir,
      ...(this.options.heartbeatMs ? ['--heartbeat', `${this.options.heartbeatMs}ms`] : []),
    ]);
    // Wait for our own server to say it listens: a 200 from /healthz could come from another
    // process that already holds the port.
    const url = await this.waitForListening(server);
    const adminToken = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    const joinToken = readFileSync(join(this.dataDir, 'join.token'), 'utf8').trim();
    this.out(`control plane  ${url}   (state in ${this.dataDir}, logs in ${this.logDir})`);

    // A laptop fleet must start without bubblewrap (macOS has none): there, and only there, the
    // agents run tasks unsandboxed, and the user is told so.
    const sandboxed = bwrapOnPath();
    if (!sandboxed) this.out('warning        bubblewrap (bwrap) is not installed: local agents run tasks WITHOUT a sandbox (--allow-unsandboxed); install bubblewrap to sandbox them');
    fleet.nodes.forEach((node, i) => {
      const agentDir = join(this.dataDir, 'agents', node.name);
      mkdirSync(agentDir, { recursive: true, mode: 0o700 });
      const config = join(agentDir, 'node.yaml');
      writeFileSync(config, stringify(rawNodes[i]));
      // The token goes through the environment: command lines are visible to every user in `ps`.
      // Sandboxed tasks see the fleet file's directory read-only wherever it is (even under /tmp,
      // which the sandbox replaces): the example jobs run scripts from there.
      const expose = sandboxed ? ['--expose', resolve(dirname(this.options.fleetFile))] : ['--allow-unsandboxed'];
      this.launch(node.name, ['agent', '--server', url, '--data-dir', agentDir, '--config', config, ...expose], { ATOLL_JOIN_TOKEN: joinToken });
      this.out(`agent          ${node.name.padEnd(22)} ${node.provider}/${node.region}${node.site ? `/${node.site}` : ''} (${node.jurisdiction ?? '-'})`);
    });

    // TLS costs nothing here: the CA is in our own data dir, and the agents check it through the join token.
    const client = new AtollClient({ server: url, token: adminToken, fetch: fetchTrusting({ ca: readFileSync(join(this.dataDir, 'ca.crt'), 'utf8') }) });
    const names = fleet.nodes.map((n) => n.name);
    await this.waitForNodes(client, names);
    let exampleJobId: string | undefined;
    if (this.options.submitExample && fleet.exampleJob && (await client.listJobs({ limit: 1 })).total === 0) {
      const job = await client.submitJob(await readSpecFile(resolve(dirname(this.options.fleetFile), fleet.exampleJob)));
      exampleJobId = job.id;
      this.out(`example job    ${job.id} (${job.taskCount} tasks from ${fleet.exampleJob})`);
    }
    const link = await client.createSignInLink();
    return { url, adminToken, agents: names, exampleJobId, dashboard: new URL(link.path, url).href };
  }

  private launch(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    if (this.stopping) throw new AtollError('unavailable', 'the fleet is stopping');
    const log = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' });
    // Own process group: Ctrl-C reaches `atoll up` alone, which then stops agents before the server.
    const child = spawn(process.execPath, [ATOLL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    child.once('exit', (code, signal) => {
      if (this.started && !this.stopping) this.options.onChildExit?.(name, code, signal);
    });
    this.children.set(name, child);
    return child;
  }

  private async waitForListening(server: ChildProcess): Promise<string> {
    const logFile = join(this.logDir, 'server.log');
    return new Promise((resolveUrl, reject) => {
      let seen = '';
      // Its last words (both streams), kept here: the log file may not have them yet when it exits.
      let said = '';
      const onAny = (chunk: Buffer) => {
        said = (said + chunk.toString()).slice(-4096);
      };
      const timer = setTimeout(() => fail(`the control plane did not start within ${START_TIMEOUT_MS / 1000}s; see ${logFile}`), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        seen += chunk.toString();
        const at = seen.indexOf(LISTENING);
        if (at < 0) return;
        const url = seen.slice(at + LISTENING.length).split('\n')[0]?.trim();
        if (url === undefined) return;
        cleanup();
        resolveUrl(url);
      };
      // 'close', not 'exit': by then both streams have been read to their end.
      const onExit = (code: number | null) => {
        const tail = said.trim().split('\n').slice(-3).join('\n');
        fail(`the control plane exited (code ${code}) before it listened:\n${tail}\n(see ${logFile})`);
      };
      const cleanup = () => {
        clearTimeout(timer);
        server.stdout?.off('data', onData);
        server.stdout?.off('data', onAny);
        server.stderr?.off('data', onAny);
        server.off('close', onExit);
      };
      const fail = (message: string) => {
        cleanup();
        reject(new AtollError('unavailable', message));
      };
      server.stdout?.on('data', onData);
      server.stdout?.on('data', onAny);
      server.stderr?.on('data', onAny);
      server.once('close', onExit);
    });
  }

  private async waitForNodes(client: AtollClient, names: readonly string[]): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const dead = [...this.children].filter(([, child]) => child.exitCode !== null || child.signalCode !== null).map(([name]) => name);
      if (dead.length > 0) throw new AtollError('unavailable', `exited during start-up: ${dead.join(', ')}; see their logs in ${this.logDir}`);
      const ready = new Set((await client.listNodes({ state: 'ready' })).items.map((n) => n.name));
      if (names.every((n) => ready.has(n))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new AtollError('unavailable', `not every agent joined within ${START_TIMEOUT_MS / 1000}s; see the logs in ${this.logDir}`);
  }
}

async function stopGroup(group: readonly ChildProcess[]): Promise<void> {
  const running = group.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = running.map((child) => new Promise<void>((r) => child.once('exit', () => r())));
  for (const child of running) child.kill('SIGTERM');
  const timer = setTimeout(() => running.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')), 10_000);
  await Promise.all(exited);
  clearTimeout(timer);
}

/** Whether an executable `bwrap` is on PATH (the agent then sandboxes tasks, or refuses them if it cannot). */
function bwrapOnPath(): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => {
    try {
      accessSync(join(dir, 'bwrap'), fsConstants.X_OK);
      return true;
    } catch (error) {
      // Not in this PATH entry: look in the next.
      if (['ENOENT', 'EACCES', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
      throw error;
    }
  });
}
