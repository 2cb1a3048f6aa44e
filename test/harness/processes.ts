import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Agent as UndiciAgent, setGlobalDispatcher } from 'undici';
import { AtollClient } from '../../src/client/client.js';
import { fetchTrusting } from '../../src/client/tls-fetch.js';
import { LIST_PRICE_BOOK } from '../../src/core/price-book.js';

// Real processes for integration tests and benchmarks: `atoll server` and `atoll agent` from the
// built CLI, on loopback, with random ports and temporary data dirs.

/** The package root, found from here both in the sources and in dist/ (benchmarks run compiled). */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

export const ATOLL_BIN = join(packageRoot(), 'bin', 'atoll.js');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `atoll-${prefix}-`));
}

/** A free loopback port (the OS picks; the socket is closed before the port is used). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export interface Proc {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited(): Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

export function startProcess(args: readonly string[], options: { env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; cwd?: string } = {}): Proc {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ATOLL_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  return {
    child,
    output: () => output,
    exited: () => exit,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
}

const execFileAsync = promisify(execFile);

/** The CLI as a user runs it against `server`, to its end; stdout and stderr apart, so JSON output can be parsed. */
export async function runCli(server: { url: string; adminToken: string; caFile?: string }, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const ca = server.caFile === undefined || !server.url.startsWith('https:') ? [] : ['--ca', server.caFile];
    const { stdout, stderr } = await execFileAsync(process.execPath, [ATOLL_BIN, ...args, '--server', server.url, '--token', server.adminToken, ...ca]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    // execFile rejects on a non-zero exit with the output attached: that is a result, not a test failure.
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface ServerProc extends Proc {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly adminToken: string;
  readonly joinToken: string;
  /** The server's CA certificate (<data-dir>/ca.crt), which clients trust. */
  readonly caFile: string;
  readonly client: AtollClient;
}

const trustedCas = new Set<string>();
let caBundle: string | undefined;

/**
 * Lets this test process's global fetch trust a server's CA (tests that speak raw HTTP use it),
 * next to the CAs of servers started before, and points ATOLL_CA at a bundle of them all, so a
 * CLI a test spawns itself trusts them too. The harness's clients get their own fetch.
 */
export function trustGlobally(caPem: string): void {
  if (trustedCas.has(caPem)) return;
  trustedCas.add(caPem);
  setGlobalDispatcher(new UndiciAgent({ connect: { ca: [...trustedCas] } }));
  caBundle ??= join(tempDir('ca-bundle'), 'ca-bundle.crt');
  writeFileSync(caBundle, [...trustedCas].join(''));
  process.env.ATOLL_CA = caBundle;
}

let listPriceBook: string | undefined;

/** A price book file of list transfer prices and no compute rules, written once per test process. */
function listPriceBookFile(): string {
  listPriceBook ??= join(tempDir('pricing'), 'list-prices.json');
  writeFileSync(listPriceBook, JSON.stringify(LIST_PRICE_BOOK));
  return listPriceBook;
}

/** A real `atoll server`, serving TLS with its own CA unless `insecure`. */
export async function startServer(options: { dataDir?: string; port?: number; extraArgs?: readonly string[]; nodeArgs?: readonly string[]; insecure?: boolean } = {}): Promise<ServerProc> {
  const dataDir = options.dataDir ?? tempDir('server');
  const port = options.port ?? (await freePort());
  // Unless a test brings its own, nodes keep the prices they declare (a book with no compute
  // rules), so tests can make one node cheap and another dear with a flag.
  const pricing = options.extraArgs?.includes('--pricing') ? [] : ['--pricing', listPriceBookFile()];
  const insecure = options.insecure === true;
  const proc = startProcess(['server', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...pricing, ...(insecure ? ['--insecure'] : []), ...(options.extraArgs ?? [])], {
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
  });
  const url = `${insecure ? 'http' : 'https'}://127.0.0.1:${port}`;
  const caFile = join(dataDir, 'ca.crt');
  const ca = await waitFor(() => {
    if (proc.child.exitCode !== null) throw new Error(`server exited early:\n${proc.output()}`);
    const pem = existsSync(caFile) ? readFileSync(caFile, 'utf8') : '';
    return pem.includes('END CERTIFICATE') ? pem : undefined;
  }, 20_000, 'server to make its CA');
  trustGlobally(ca);
  await waitFor(async () => {
    if (proc.child.exitCode !== null) throw new Error(`server exited early:\n${proc.output()}`);
    return (await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)) || undefined;
  }, 20_000, 'server to answer /healthz');
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const joinToken = readFileSync(join(dataDir, 'join.token'), 'utf8').trim();
  return { ...proc, url, port, dataDir, adminToken, joinToken, caFile, client: new AtollClient({ server: url, token: adminToken, fetch: fetchTrusting({ ca }) }) };
}

export interface AgentSpec {
  readonly name: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Where the node stands; left out: provider `local`, region `test`, jurisdiction DE, geo 50.1,8.7. */
  readonly provider?: string;
  readonly region?: string;
  readonly zone?: string;
  readonly site?: string;
  readonly kind?: 'cloud' | 'edge' | 'onprem';
  readonly jurisdiction?: string;
  readonly geo?: { readonly lat: number; readonly lon: number };
  readonly priceHour?: number;
  /**
   * A node.yaml (taints, rttMs and anything else flags cannot say), written to the data dir and
   * passed with --config. With it, only the fields given above become flags (flags win over the
   * file), so the file is not overridden by the defaults.
   */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly extraArgs?: readonly string[];
}

function writeSecret(dir: string, secret: string): string {
  const file = join(dir, 'join-token-for-test');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return file;
}

/** The flags that describe the node: every given field, plus the defaults unless a config file says the rest. */
function nodeFlags(spec: AgentSpec, configFile: string | undefined): string[] {
  const defaults = configFile === undefined;
  const flag = (name: string, value: string | number | undefined, fallback?: string): string[] => {
    const chosen = value === undefined ? (defaults ? fallback : undefined) : String(value);
    // One argument with `=`, so a value such as a southern latitude (`-33.9,151.2`) is never taken for a flag.
    return chosen === undefined ? [] : [`--${name}=${chosen}`];
  };
  const labels = Object.entries(spec.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  return [
    ...(configFile === undefined ? [] : ['--config', configFile]),
    '--name', spec.name,
    ...flag('provider', spec.provider, 'local'),
    ...flag('region', spec.region, 'test'),
    ...flag('zone', spec.zone),
    ...flag('site', spec.site),
    ...flag('kind', spec.kind),
    ...flag('jurisdiction', spec.jurisdiction, 'DE'),
    ...flag('geo', spec.geo === undefined ? undefined : `${spec.geo.lat},${spec.geo.lon}`, '50.1,8.7'),
    ...flag('cpu', spec.cpu, '4'),
    ...flag('memory', spec.memory, '8Gi'),
    ...flag('price-hour', spec.priceHour),
    ...labels,
  ];
}

/** An agent process; an empty joinToken starts it on the credential saved in dataDir alone. */
export function startAgent(serverUrl: string, joinToken: string, spec: AgentSpec, dataDir = tempDir(`agent-${spec.name}`)): Proc & { dataDir: string } {
  let configFile: string | undefined;
  if (spec.config !== undefined) {
    // JSON is YAML, so the agent reads it as it reads any node.yaml.
    configFile = join(dataDir, 'node.yaml');
    writeFileSync(configFile, `${JSON.stringify(spec.config, null, 2)}\n`);
  }
  const proc = startProcess([
    'agent', '--server', serverUrl, ...(serverUrl.startsWith('http:') ? ['--insecure'] : []), ...(joinToken ? ['--join-token-file', writeSecret(dataDir, joinToken)] : []), '--data-dir', dataDir,
    ...nodeFlags(spec, configFile), '--log-level', 'warn', ...(spec.extraArgs ?? []),
  ]);
  return { ...proc, dataDir };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
      if (error instanceof Error && error.message.startsWith('server exited early')) throw error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export async function waitForReadyNodes(client: AtollClient, count: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => ((await client.listNodes({ state: 'ready' })).items.length >= count ? true : undefined), timeoutMs, `${count} ready nodes`);
}

export async function waitForJobEnd(client: AtollClient, jobId: string, timeoutMs = 60_000) {
  return waitFor(async () => {
    const job = await client.getJob(jobId);
    return job.finishedAt !== null ? job : undefined;
  }, timeoutMs, `job ${jobId} to finish`);
}
