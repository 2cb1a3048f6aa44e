import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AtollClient } from '../src/client/client.js';
import type { PartitionRecord } from '../src/core/data-spec.js';
import type { EventRecord, JobView } from '../src/core/types.js';
import { importPrivateKey, signDataToken } from '../src/protocol/data-token.js';
import { DATA_CA, issueServerCertificate, loadOrCreateCa } from '../src/server/tls/certificate-authority.js';
import { topSelfTime } from './cpu-profile.js';
import { freePort, startAgent, startServer, tempDir, waitFor, waitForJobEnd, waitForReadyNodes, type Proc, type ServerProc } from '../test/harness/processes.js';

// npm run bench:transfer [-- --big-mib N --small N --small-bytes B --runs N --register-concurrency N --baseline node-tls|node|python --profile]
// A control plane and two agents on 127.0.0.1: A (pool=holder) holds the data, B (pool=reader)
// runs a job that reads it, so B fetches every partition from A's data server (signed token,
// sha256 on the way). Two cases: one 1 GiB partition, and 10,000 partitions of 4 KiB in one
// job's inputs. Each is set against a plain `curl` of the same bytes (A's own object files) from
// a static file server on loopback: one `curl -o` for the big file, one `curl -K` process with
// keep-alive for the small ones. `--big-mib 0` or `--small 0` skips a case. Last line JSON.
// The fleet runs TLS, as `atoll up` does, so peer transfers are HTTPS; the default baseline is
// HTTPS too (`node-tls`: the static server with a certificate from the same data CA, curl trusting
// it), and `--baseline node` sets Atoll over TLS against plain-HTTP curl.
//
// Atoll's figures come from the ledger: each fetch is a `transfer.completed` event with `bytes`
// and `durationMs` (measured by B around fetch + hash + write). Big: bytes / durationMs. Small:
// files / the wall span of the fetch phase (first fetch's start to the last one's end, from the
// event times), which counts B's per-file work between fetches that the sum of durations misses
// and leaves out one-off costs that are not transfer (placement, the assignment message, spawning
// the command). A third, diagnostic figure is curl straight from A's data server with tokens
// signed by the control plane's key: it splits the gap between the holder and the fetching side.
// Each measurement runs after `sync`, so one's writeback does not slow the next; `--runs N`
// (default 3) repeats them interleaved and reports medians, as this kind of machine is noisy.
// `--profile` samples both agents' CPU and prints their top self time (staging vs serving).

const GOAL = 0.8;
const DATASET = 'bench';
const MB = 1e6;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} expects a whole number >= 0`);
  return value;
}

function textFlag(name: string, fallback: string, allowed: readonly string[]): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? (process.argv[i + 1] ?? '') : fallback;
  if (!allowed.includes(value)) throw new Error(`--${name} expects one of ${allowed.join(', ')}`);
  return value;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
const mbps = (bytes: number, ms: number): number => round(bytes / MB / (ms / 1000));
const perSec = (count: number, ms: number): number => Math.round(count / (ms / 1000));

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Runs a command to its end; rejects on a non-zero exit with its stderr. Resolves with its wall time in ms. */
function timed(command: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${command} ${args.slice(0, 4).join(' ')} ... exited ${code ?? signal}: ${stderr.slice(0, 500)}`));
    });
  });
}

/** Flushes dirty pages, so one measurement's writeback does not slow the next. */
async function settle(): Promise<void> {
  await timed('sync', []);
}

/** Every event of a job, page by page. */
async function jobEvents(client: AtollClient, jobId: string): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  let after = 0;
  for (;;) {
    const page = await client.listEvents({ job: jobId, after, limit: 10_000 });
    out.push(...page.items);
    if (page.items.length < 10_000) return out;
    after = page.items[page.items.length - 1]!.seq;
  }
}

/** A static file server for the baseline: files of `dir` at /<name>, keep-alive, nothing else. */
interface Baseline {
  readonly url: string;
  readonly describe: string;
  close(): Promise<void>;
}

/** A static file server in its own process: `node -e` with node:http, a read stream piped to the response. */
const NODE_STATIC_SERVER = `
const { createReadStream, readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');
const [dir, certFile, keyFile] = process.argv.slice(1);
const handler = (req, res) => {
  const name = decodeURIComponent((req.url || '/').slice(1));
  let size;
  try {
    if (name === '' || name.includes('/') || name.startsWith('.')) throw new Error('no');
    size = statSync(join(dir, name)).size;
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  const stream = createReadStream(join(dir, name));
  stream.on('error', () => res.destroy());
  stream.pipe(res);
};
const server = certFile === undefined
  ? require('node:http').createServer(handler)
  : require('node:https').createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler);
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** Loaded into each agent with --profile: samples its CPU from start to exit (the inspector session answers synchronously). */
const PROFILE_PRELOAD = `
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(join(PROFILE_DIR, 'CPU.' + process.pid + '.cpuprofile'), JSON.stringify(result.profile));
  });
});
`;

/** Kills a baseline server process and waits for it to go. */
function killChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** `tls`: serve HTTPS with this certificate and key (files). */
async function nodeStaticServer(dir: string, tls?: { certFile: string; keyFile: string }): Promise<Baseline> {
  // No auth, no hashing, no JSON: the plain copy Atoll is set against, in its own process like an agent.
  const child = spawn(process.execPath, ['-e', NODE_STATIC_SERVER, dir, ...(tls ? [tls.certFile, tls.keyFile] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const port = await waitFor(() => {
    if (child.exitCode !== null) throw new Error('the static file server exited early');
    return /^(\d+)\n/.exec(stdout)?.[1];
  }, 10_000, 'the static file server to listen');
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    describe: `node:${tls ? 'https' : 'http'} static server (createReadStream | res, keep-alive), own process`,
    close: () => killChild(child),
  };
}

async function pythonStaticServer(dir: string): Promise<Baseline> {
  const port = await freePort();
  // HTTP/1.1 so curl keeps the connection alive across the small files (the default, 1.0, closes each).
  const child: ChildProcess = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir, '--protocol', 'HTTP/1.1'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${url}/`).then((r) => r.body?.cancel().then(() => r.ok)).catch(() => false)) || undefined), 10_000, 'python3 -m http.server');
  return {
    url,
    describe: 'python3 -m http.server --protocol HTTP/1.1',
    close: () => killChild(child),
  };
}

/** One curl process fetching every (url, output, headers) entry in turn over one kept-alive connection. */
async function curlMany(work: string, entries: readonly { url: string; output: string; header?: string }[], cacert: string): Promise<number> {
  const config = join(work, `curl-${randomBytes(4).toString('hex')}.cfg`);
  // `next` resets per-URL options, so each entry gets only its own header.
  const lines = entries.map((e) => [`url = "${e.url}"`, `output = "${e.output}"`, `cacert = "${cacert}"`, ...(e.header ? [`header = "${e.header}"`] : []), 'fail'].join('\n'));
  writeFileSync(config, `${lines.join('\nnext\n')}\n`);
  try {
    return await timed('curl', ['-s', '-K', config]);
  } finally {
    rmSync(config, { force: true });
  }
}

function sizeOfDir(dir: string): { files: number; bytes: number } {
  let bytes = 0;
  const names = readdirSync(dir);
  for (const name of names) bytes += statSync(join(dir, name)).size;
  return { files: names.length, bytes };
}

/** CPU seconds (user + system) a live process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name sits in parentheses and may hold spaces; the fields after it are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One number for each process of the cluster: agent A, agent B and the control plane (pids, or CPU seconds). */
interface PerProcess {
  readonly holder: number;
  readonly reader: number;
  readonly controlPlane: number;
}
type Pids = PerProcess;
type CpuUse = PerProcess;

function cpuNow(pids: Pids): CpuUse {
  return { holder: cpuSeconds(pids.holder), reader: cpuSeconds(pids.reader), controlPlane: cpuSeconds(pids.controlPlane) };
}

function cpuSince(before: CpuUse, pids: Pids): CpuUse {
  const now = cpuNow(pids);
  return { holder: round(now.holder - before.holder, 2), reader: round(now.reader - before.reader, 2), controlPlane: round(now.controlPlane - before.controlPlane, 2) };
}

const cpuText = (cpu: CpuUse): string => `cpu s: A ${cpu.holder}, B ${cpu.reader}, control plane ${cpu.controlPlane}`;

interface JobFigures {
  readonly job: JobView;
  /** CPU the agents and the control plane used from submit to success (2 cores on the machine it was written on). */
  readonly cpu: CpuUse;
  readonly transfers: readonly EventRecord[];
  readonly bytes: number;
  readonly sumDurationMs: number;
  /** From the first fetch's start to the last fetch's end (server event times; same machine). */
  readonly spanMs: number;
  readonly submitToSuccessMs: number;
  readonly placedToStartedMs: number | null;
}

/** Submits a job on B reading `partitions` from A and takes its figures from the event log. */
async function runReadJob(client: AtollClient, pids: Pids, name: string, partitions: readonly string[], timeoutMs: number): Promise<JobFigures> {
  const cpuBefore = cpuNow(pids);
  const submittedAt = Date.now();
  const submitted = await client.submitJob({
    name,
    command: ['true'],
    resources: { cpu: '100m', memory: '16Mi' },
    inputs: [{ dataset: DATASET, partitions }],
    placement: { require: [{ key: 'pool', operator: 'In', values: ['reader'] }] },
  });
  const job = await waitForJobEnd(client, submitted.id, timeoutMs);
  const cpu = cpuSince(cpuBefore, pids);
  if (job.state !== 'succeeded') {
    const task = await client.getTask(`${job.id}.0`).catch(() => undefined);
    throw new Error(`job ${job.id} ${job.state}: ${task?.reason ?? job.reason ?? 'no reason given'}`);
  }
  // The ledger events of the last transfers may land just after the result: wait for all of them.
  const events = await waitFor(async () => {
    const all = await jobEvents(client, job.id);
    return all.filter((e) => e.type === 'transfer.completed').length >= partitions.length ? all : undefined;
  }, 30_000, `${partitions.length} transfer.completed events of ${job.id}`);
  const transfers = events.filter((e) => e.type === 'transfer.completed').sort((a, b) => a.seq - b.seq);
  const from = (e: EventRecord): string => String(e.data['from'] && typeof e.data['from'] === 'object' ? (e.data['from'] as { node?: unknown }).node : e.data['from']);
  if (transfers.some((e) => from(e) !== 'transfer-a' || e.node !== 'transfer-b')) throw new Error(`job ${job.id}: a transfer did not go from transfer-a to transfer-b`);
  const bytes = transfers.reduce((sum, e) => sum + Number(e.data['bytes']), 0);
  const sumDurationMs = transfers.reduce((sum, e) => sum + Number(e.data['durationMs']), 0);
  const firstStart = Math.min(...transfers.map((e) => e.time - Number(e.data['durationMs'])));
  const lastEnd = Math.max(...transfers.map((e) => e.time));
  const placed = events.find((e) => e.type === 'task.placed');
  const started = events.find((e) => e.type === 'attempt.started');
  return {
    job,
    cpu,
    transfers,
    bytes,
    sumDurationMs,
    spanMs: Math.max(1, lastEnd - firstStart),
    submitToSuccessMs: (job.finishedAt ?? Date.now()) - submittedAt,
    placedToStartedMs: placed && started ? started.time - placed.time : null,
  };
}

function medianCpu(results: readonly JobFigures[]): CpuUse {
  return {
    holder: round(median(results.map((r) => r.cpu.holder)), 2),
    reader: round(median(results.map((r) => r.cpu.reader)), 2),
    controlPlane: round(median(results.map((r) => r.cpu.controlPlane)), 2),
  };
}

/** Writes `mib` MiB by repeating one random MiB: fast, and incompressible enough for a copy. */
function writeBigFile(path: string, mib: number): void {
  const block = randomBytes(2 ** 20);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i += 1) {
      // A different first word per MiB, so no two blocks are equal.
      block.writeUInt32LE(i, 0);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
}

async function main(): Promise<void> {
  const bigMiB = flag('big-mib', 1024);
  const smallCount = flag('small', 10_000);
  const smallBytes = flag('small-bytes', 4096);
  const runs = Math.max(1, flag('runs', 3));
  const concurrency = Math.max(1, flag('register-concurrency', 16));
  const baselineKind = textFlag('baseline', 'node-tls', ['node-tls', 'node', 'python']);
  const profileDir = process.argv.includes('--profile') ? tempDir('transfer-profile') : undefined;
  if (smallCount > 10_000) throw new Error('--small is at most 10000 (the most partitions one input entry may name)');

  const work = tempDir('transfer-bench');
  let server: ServerProc | undefined;
  const agents: (Proc & { dataDir: string })[] = [];
  let baseline: Baseline | undefined;
  const figures: Record<string, unknown> = {};
  try {
    server = await startServer();
    const client = server.client;
    // With --profile, the agents (only) write a V8 CPU profile when they exit (--cpu-prof is not allowed in NODE_OPTIONS; --import is).
    const nodeOptions = process.env['NODE_OPTIONS'];
    if (profileDir !== undefined) {
      const preload = join(profileDir, 'profile-preload.mjs');
      writeFileSync(preload, PROFILE_PRELOAD.replace('PROFILE_DIR', JSON.stringify(profileDir)));
      process.env['NODE_OPTIONS'] = `${nodeOptions ?? ''} --import=${preload}`.trim();
    }
    let a: Proc & { dataDir: string };
    let b: Proc & { dataDir: string };
    try {
      a = startAgent(server.url, server.joinToken, { name: 'transfer-a', kind: 'cloud', cpu: '4', memory: '8Gi', labels: { pool: 'holder' } });
      agents.push(a);
      b = startAgent(server.url, server.joinToken, { name: 'transfer-b', kind: 'cloud', cpu: '4', memory: '8Gi', labels: { pool: 'reader' } });
      agents.push(b);
    } finally {
      if (nodeOptions === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = nodeOptions;
    }
    await waitForReadyNodes(client, 2);
    const pids: Pids = { holder: a.child.pid!, reader: b.child.pid!, controlPlane: server.child.pid! };
    const holderUrl = (await client.getNode('transfer-a')).dataUrl;
    if (holderUrl === null) throw new Error('agent A serves no data address');
    const objects = join(a.dataDir, 'data', 'objects');
    // curl trusts the data CA, as agent B does: for A's data server, and for the HTTPS baseline.
    const dataCaFile = join(server.dataDir, 'data-ca.crt');
    let baselineTls: { certFile: string; keyFile: string } | undefined;
    if (baselineKind === 'node-tls') {
      const certDir = join(work, 'baseline-tls');
      mkdirSync(certDir);
      await issueServerCertificate(await loadOrCreateCa(server.dataDir, Date.now(), DATA_CA), certDir, ['127.0.0.1']);
      baselineTls = { certFile: join(certDir, 'server.crt'), keyFile: join(certDir, 'server.key') };
    }
    baseline = baselineKind === 'python' ? await pythonStaticServer(objects) : await nodeStaticServer(objects, baselineTls);
    const keys = importPrivateKey(readFileSync(join(server.dataDir, 'data-signing.key'), 'utf8'));
    // A token as the control plane gives B for a read, for the diagnostic curl from A's data server.
    const readToken = (p: PartitionRecord) => signDataToken({
      op: 'read', namespace: 'default', dataset: DATASET, partition: p.partition, node: 'transfer-a', for: 'transfer-b',
      forJurisdiction: 'DE', sha256: p.sha256, exp: Date.now() + 3_600_000,
    }, keys.privateKey);
    const holderPath = (p: PartitionRecord) => `${holderUrl}/v1/data/default/${DATASET}/${encodeURIComponent(p.partition)}`;
    console.log(`control plane ${server.url}; agents transfer-a (pool=holder, data ${holderUrl}) and transfer-b (pool=reader); baseline: ${baseline.describe}`);
    console.log(`throughput in MB/s (10^6 bytes); ${runs} run(s) of each measurement, median reported`);

    if (bigMiB > 0) {
      const src = join(a.dataDir, 'bench-src');
      mkdirSync(src, { recursive: true });
      const file = join(src, 'big.bin');
      let t = performance.now();
      writeBigFile(file, bigMiB);
      const written = performance.now() - t;
      t = performance.now();
      const big = await client.registerData({ dataset: DATASET, partition: 'big', node: 'transfer-a', path: file });
      const registered = performance.now() - t;
      // A keeps its own copy in its store; the original is not needed any more.
      rmSync(file);
      console.log(`big: wrote ${bigMiB} MiB in ${Math.round(written)} ms, registered on A in ${Math.round(registered)} ms (hash + copy + fsync)`);

      const atoll: JobFigures[] = [];
      const curlMs: number[] = [];
      const holderMs: number[] = [];
      for (let run = 1; run <= runs; run += 1) {
        const out = join(work, 'big.out');
        await settle();
        curlMs.push(await timed('curl', ['-s', '-f', '--cacert', dataCaFile, '-o', out, `${baseline.url}/${big.sha256}`]));
        if (statSync(out).size !== big.bytes) throw new Error(`curl fetched ${statSync(out).size} bytes of ${big.bytes}`);
        rmSync(out);
        await settle();
        holderMs.push(await timed('curl', ['-s', '-f', '--cacert', dataCaFile, '-o', out, '-H', `authorization: Bearer ${readToken(big)}`, holderPath(big)]));
        if (statSync(out).size !== big.bytes) throw new Error(`curl from A's data server fetched ${statSync(out).size} bytes of ${big.bytes}`);
        rmSync(out);
        await settle();
        const result = await runReadJob(client, pids, `transfer-big-${run}`, ['big'], 600_000);
        if (result.bytes !== big.bytes) throw new Error(`the ledger says ${result.bytes} bytes moved, not ${big.bytes}`);
        atoll.push(result);
        const d = result.transfers[0]!.data;
        console.log(`big run ${run}: atoll ${mbps(result.bytes, Number(d['durationMs']))} MB/s (${d['durationMs']} ms in the ledger; submit to success ${result.submitToSuccessMs} ms, placed to started ${result.placedToStartedMs} ms; ${cpuText(result.cpu)}); curl static ${mbps(big.bytes, curlMs[run - 1]!)} MB/s (${Math.round(curlMs[run - 1]!)} ms); curl from A's data server ${mbps(big.bytes, holderMs[run - 1]!)} MB/s`);
      }
      const atollMs = median(atoll.map((r) => r.sumDurationMs));
      const atollMBps = mbps(big.bytes, atollMs);
      const curlMBps = mbps(big.bytes, median(curlMs));
      figures['big'] = {
        bytes: big.bytes,
        atollMBps,
        curlMBps,
        ratio: round(atollMBps / curlMBps, 2),
        atollMs: Math.round(atollMs),
        curlMs: Math.round(median(curlMs)),
        submitToSuccessMs: Math.round(median(atoll.map((r) => r.submitToSuccessMs))),
        curlFromHolderMBps: mbps(big.bytes, median(holderMs)),
        atollCpuSeconds: medianCpu(atoll),
      };
      console.log(`big: ${(big.bytes / 2 ** 30).toFixed(2)} GiB, atoll ${atollMBps} MB/s vs curl ${curlMBps} MB/s: ratio ${round(atollMBps / curlMBps, 2)} (goal ${GOAL})`);
    }

    if (smallCount > 0) {
      const src = join(a.dataDir, 'bench-small');
      mkdirSync(src, { recursive: true });
      const names = Array.from({ length: smallCount }, (_, i) => `s${String(i).padStart(5, '0')}`);
      let t = performance.now();
      // Distinct content per file: the store is content-addressed, equal files would share one object.
      const random = randomBytes(smallCount * smallBytes);
      names.forEach((name, i) => writeFileSync(join(src, name), random.subarray(i * smallBytes, (i + 1) * smallBytes)));
      const written = performance.now() - t;
      t = performance.now();
      let done = 0;
      const progress = setInterval(() => console.log(`small: ${done}/${smallCount} registered after ${Math.round((performance.now() - t) / 1000)} s`), 10_000);
      let records: PartitionRecord[];
      try {
        records = await pool(names, concurrency, async (name) => {
          const record = await client.registerData({ dataset: DATASET, partition: name, node: 'transfer-a', path: join(src, name) });
          done += 1;
          return record;
        });
      } finally {
        clearInterval(progress);
      }
      const registered = performance.now() - t;
      rmSync(src, { recursive: true, force: true });
      const totalBytes = records.reduce((sum, r) => sum + r.bytes, 0);
      console.log(`small: wrote ${smallCount} files of ${smallBytes} B in ${Math.round(written)} ms; registered on A in ${Math.round(registered)} ms (${perSec(smallCount, registered)}/s, ${concurrency} at once)`);

      const atoll: JobFigures[] = [];
      const curlMs: number[] = [];
      const holderMs: number[] = [];
      for (let run = 1; run <= runs; run += 1) {
        const out = join(work, `small-${run}`);
        mkdirSync(out);
        await settle();
        curlMs.push(await curlMany(work, records.map((r) => ({ url: `${baseline!.url}/${r.sha256}`, output: join(out, r.partition) })), dataCaFile));
        const got = sizeOfDir(out);
        if (got.files !== smallCount || got.bytes !== totalBytes) throw new Error(`curl fetched ${got.files} files, ${got.bytes} bytes; expected ${smallCount}, ${totalBytes}`);
        rmSync(out, { recursive: true });
        mkdirSync(out);
        await settle();
        holderMs.push(await curlMany(work, records.map((r) => ({ url: holderPath(r), output: join(out, r.partition), header: `authorization: Bearer ${readToken(r)}` })), dataCaFile));
        const fromHolder = sizeOfDir(out);
        if (fromHolder.files !== smallCount || fromHolder.bytes !== totalBytes) throw new Error(`curl from A's data server fetched ${fromHolder.files} files, ${fromHolder.bytes} bytes; expected ${smallCount}, ${totalBytes}`);
        rmSync(out, { recursive: true });
        await settle();
        const result = await runReadJob(client, pids, `transfer-small-${run}`, names, 1_800_000);
        if (result.bytes !== totalBytes || result.transfers.length !== smallCount) throw new Error(`the ledger says ${result.transfers.length} transfers, ${result.bytes} bytes; expected ${smallCount}, ${totalBytes}`);
        atoll.push(result);
        console.log(`small run ${run}: atoll ${perSec(smallCount, result.spanMs)} files/s (fetch phase ${result.spanMs} ms; sum of ledger durations ${result.sumDurationMs} ms = ${perSec(smallCount, result.sumDurationMs)} files/s; placed to started ${result.placedToStartedMs} ms; submit to success ${result.submitToSuccessMs} ms; ${cpuText(result.cpu)}); curl static ${perSec(smallCount, curlMs[run - 1]!)} files/s (${Math.round(curlMs[run - 1]!)} ms); curl from A's data server ${perSec(smallCount, holderMs[run - 1]!)} files/s`);
      }
      const spanMs = median(atoll.map((r) => r.spanMs));
      const curlMsMedian = median(curlMs);
      const atollFilesPerSec = perSec(smallCount, spanMs);
      const curlFilesPerSec = perSec(smallCount, curlMsMedian);
      figures['small'] = {
        count: smallCount,
        bytes: totalBytes,
        atollFilesPerSec,
        curlFilesPerSec,
        ratio: round(atollFilesPerSec / curlFilesPerSec, 2),
        atollMBps: mbps(totalBytes, spanMs),
        curlMBps: mbps(totalBytes, curlMsMedian),
        atollFetchPhaseMs: Math.round(spanMs),
        atollSumDurationMs: Math.round(median(atoll.map((r) => r.sumDurationMs))),
        atollPlacedToStartedMs: atoll.every((r) => r.placedToStartedMs !== null) ? Math.round(median(atoll.map((r) => r.placedToStartedMs!))) : null,
        submitToSuccessMs: Math.round(median(atoll.map((r) => r.submitToSuccessMs))),
        curlMs: Math.round(curlMsMedian),
        curlFromHolderFilesPerSec: perSec(smallCount, median(holderMs)),
        atollCpuSeconds: medianCpu(atoll),
        registerMs: Math.round(registered),
      };
      console.log(`small: ${smallCount} x ${smallBytes} B, atoll ${atollFilesPerSec} files/s vs curl ${curlFilesPerSec} files/s: ratio ${round(atollFilesPerSec / curlFilesPerSec, 2)} (goal ${GOAL})`);
    }

    if (profileDir !== undefined) {
      // A graceful stop (SIGTERM) is what makes the agents write their profiles.
      await Promise.all(agents.map((agent) => agent.kill('SIGTERM')));
      const files = readdirSync(profileDir);
      for (const [name, agent] of [['A (holder)', a], ['B (reader)', b]] as const) {
        const file = files.find((f) => f.endsWith('.cpuprofile') && f.includes(`.${agent.child.pid}.`));
        if (file === undefined) {
          console.log(`agent ${name}: no CPU profile written`);
          continue;
        }
        console.log(`agent ${name} CPU profile ${join(profileDir, file)}; top self time over the whole run:`);
        for (const spot of topSelfTime(join(profileDir, file))) console.log(`  ${(spot.share * 100).toFixed(1).padStart(5)}%  ${String(spot.selfMs).padStart(6)} ms  ${spot.fn}`);
      }
    }

    figures['goal'] = GOAL;
    figures['baseline'] = baselineKind;
    figures['runs'] = runs;
    console.log(JSON.stringify(figures));
  } finally {
    await baseline?.close();
    await Promise.all(agents.map((agent) => agent.kill('SIGKILL')));
    await server?.kill('SIGKILL');
    for (const dir of [work, ...agents.map((agent) => agent.dataDir), ...(server ? [server.dataDir] : [])]) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
