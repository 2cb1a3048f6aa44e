import { X509Certificate } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { loadavg } from 'node:os';
import { join as joinPath } from 'node:path';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { NodeSpec } from '../core/node-spec.js';
import { parseOrThrow } from '../core/validation.js';
import {
  MAX_LOG_CHUNK_CHARS,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  clampReason,
  pieceEnd,
  serverMessage,
  type AgentMessage,
  type AttemptAssignment,
  type AttemptResult,
  type ServerMessage,
} from '../protocol/messages.js';
import { Backoff } from './backoff.js';
import { join, JoinRefused, loadCredential, nodeKeys, renew, renewAt, saveCredential, type NodeCredential } from './credentials.js';
import type { Driver, LogStream, RunningAttempt } from './drivers/driver.js';
import { attemptDirs, ExecDriver } from './drivers/exec-driver.js';
import { ProcessGroupLedger } from './drivers/process-groups.js';
import { removeLeftoverSecrets } from './drivers/secret-files.js';
import { probeSandbox, type SandboxMode } from './drivers/sandbox-probe.js';
import { ResultJournal } from './result-journal.js';
import { AgentData } from './agent-data.js';
import type { DataServerCertificate } from './data-server.js';
import { withStagedInputs } from './input-staging.js';
import { RttProber, sameRtt } from './rtt-prober.js';

export const AGENT_VERSION = '0.1.0';
/** Node label the agent sets to say how it runs tasks (`bwrap` or `none`), for operators and placement rules. */
export const SANDBOX_LABEL = 'atoll.dev/sandbox';
/** Log text kept while disconnected; beyond it, output is dropped (results are never dropped). */
const MAX_OFFLINE_LOG_CHARS = 4 * 2 ** 20;
/** Entries per batched message, well under the protocol's limits. */
const MAX_BATCH = 5000;

export interface AgentOptions {
  readonly serverUrl: string;
  readonly joinToken?: string;
  readonly dataDir: string;
  readonly node: NodeSpec;
  readonly log: Logger;
  readonly driver?: Driver;
  /** How often the node's `probes` are measured (default 30 s). */
  readonly probeIntervalMs?: number;
  /** Where to serve partitions to peers and clients; null: no data server (peers reach its data through the control plane's relay). */
  readonly data?: { readonly listen: { readonly host: string; readonly port: number }; readonly advertise?: string } | null;
  /** Without bubblewrap, run tasks as plain processes instead of refusing them. */
  readonly allowUnsandboxed?: boolean;
  /** Run tasks as plain processes even where bubblewrap works (development; tests that watch task processes from the host). */
  readonly unsandboxed?: boolean;
  /** Files tasks must not see besides the data dir (the join token file). */
  readonly hideFromTasks?: readonly string[];
  /** Host paths sandboxed tasks may read at the same path (`--expose`). */
  readonly exposeToTasks?: readonly string[];
}

interface Running {
  readonly assignment: AttemptAssignment;
  readonly handle: RunningAttempt;
  startedAt: number | null;
  /** Settles once the result is journaled and handed to the connection (if any). */
  readonly reported: Promise<void>;
}

type LogChunkOut = Extract<AgentMessage, { type: 'attempts.logs' }>['chunks'][number];

/**
 * `atoll agent`: one outbound WebSocket to the control plane (so it works behind NAT), runs
 * what it is given, and keeps each result on disk until the control plane acknowledges it.
 */
export class Agent {
  private readonly running = new Map<string, Running>();
  // Capped well under the control plane's restart grace (15 s), so a restart loses no work.
  private readonly backoff = new Backoff(200, 5000);
  private ws: WebSocket | undefined;
  private connected = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Last time anything (a message or a pong) came from the control plane. */
  private lastHeardAt = 0;
  private heartbeatMs = 1000;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private credential: NodeCredential | undefined;
  private journal!: ResultJournal;
  private groups: ProcessGroupLedger | undefined;
  private driver!: Driver;
  // Outbox: everything produced in one tick goes out as one message per kind, in this order.
  private outStarted: { attemptId: string; epoch: number; startedAt: number }[] = [];
  private outLogs: LogChunkOut[] = [];
  private outLogChars = 0;
  private flushScheduled = false;
  private prober: RttProber | undefined;
  /** Set in start(), before the first connection. */
  private data!: AgentData;
  /** The round trips the control plane last got on this connection (hello or heartbeat). */
  private rttSent: Readonly<Record<string, number>> = {};
  /** How the exec driver runs tasks; undefined when a driver was given. */
  private sandbox: SandboxMode | undefined;

  constructor(private readonly options: AgentOptions) {}

  get nodeName(): string {
    return this.options.node.name;
  }

  async start(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    this.journal = await ResultJournal.open(joinPath(this.options.dataDir, 'journal'));
    const workRoot = joinPath(this.options.dataDir, 'attempts');
    await mkdir(workRoot, { recursive: true });
    // Tasks a previous run of this agent left behind (it was killed) would run a second time
    // next to their replacements: stop them before telling the control plane what runs here.
    const { ledger, reaped } = await ProcessGroupLedger.open(workRoot);
    this.groups = ledger;
    if (reaped.length > 0) this.options.log.warn({ attempts: reaped }, `stopped ${reaped.length} task(s) left running by a previous agent process`);
    // Their tasks are stopped, so the secret files a killed agent process left serve nobody now.
    const leftover = await removeLeftoverSecrets(workRoot);
    if (leftover.length > 0) this.options.log.warn({ attempts: leftover }, `removed the secret files of ${leftover.length} attempt(s) a previous agent process left behind`);
    if (this.options.driver === undefined) this.sandbox = await this.chooseSandbox(workRoot);
    this.driver = this.options.driver ?? new ExecDriver({
      workRoot,
      groups: ledger,
      nodeName: this.nodeName,
      onWarning: (message) => this.options.log.warn(message),
      ...(this.sandbox === undefined ? {} : { sandbox: this.sandbox }),
    });
    this.credential = await loadCredential(this.options.dataDir);
    if (this.credential && this.credential.node !== this.nodeName) {
      throw new Error(`data dir ${this.options.dataDir} belongs to node ${this.credential.node}, not ${this.nodeName}; use another --data-dir`);
    }
    const dataCertificate = await this.dataCertificateOf(this.credential);
    this.data = await AgentData.start({
      dataDir: this.options.dataDir, nodeName: this.nodeName, serverUrl: this.options.serverUrl, serverCa: () => this.credential?.ca, dataCa: () => this.credential?.dataCa, log: this.options.log,
      secure: new URL(this.options.serverUrl).protocol === 'https:',
      ...(dataCertificate === undefined ? {} : { certificate: dataCertificate }),
      listen: this.options.data === null ? null : (this.options.data?.listen ?? { host: '127.0.0.1', port: 0 }),
      ...(this.options.data?.advertise === undefined ? {} : { advertise: this.options.data.advertise }),
      send: (message) => this.send(message),
      sendFrame: (frame) => new Promise<void>((resolve) => {
        // A frame that cannot go (the connection dropped) resolves too: the stream is torn down on close.
        if (!this.connected || this.ws?.readyState !== WebSocket.OPEN) return resolve();
        this.ws.send(frame, () => resolve());
      }),
    });
    const probes = this.options.node.probes ?? {};
    if (Object.keys(probes).length > 0) {
      // Started before dialling, so the first round's figures can already go out with hello.
      this.prober = new RttProber({ probes, log: this.options.log, ...(this.options.probeIntervalMs === undefined ? {} : { intervalMs: this.options.probeIntervalMs }) });
      this.prober.start();
    }
    void this.connectLoop();
  }

  /** bwrap when it works here; otherwise plain processes if allowed, else refusal (said loudly now, and in each attempt's reason). */
  private async chooseSandbox(workRoot: string): Promise<SandboxMode> {
    if (this.options.unsandboxed) {
      this.options.log.warn('tasks run WITHOUT a sandbox (--unsandboxed): a task can read and change everything this agent can, including its credential');
      return { kind: 'none' };
    }
    const probe = await probeSandbox({
      hide: [this.options.dataDir, ...(this.options.hideFromTasks ?? [])], expose: this.options.exposeToTasks ?? [], scratchDir: joinPath(workRoot, '.sandbox-probe'),
    });
    const { log } = this.options;
    if (probe.ok) {
      log.info({ bwrap: probe.host.bwrap, taskUser: probe.host.setpriv === null ? 'agent user' : 'nobody' }, 'tasks run sandboxed with bubblewrap');
      return { kind: 'bwrap', host: probe.host };
    }
    if (this.options.allowUnsandboxed) {
      log.warn(`tasks run WITHOUT a sandbox (--allow-unsandboxed): ${probe.problem}. A task can read and change everything this agent can, including its credential`);
      return { kind: 'none' };
    }
    const reason = `node ${this.nodeName} cannot sandbox tasks: ${probe.problem}; or start its agent with --allow-unsandboxed to run tasks without a sandbox`;
    log.error(`${reason}. Every task placed here will fail until then`);
    return { kind: 'refuse', reason };
  }

  /** Stops running attempts (they are reported as cancelled so they run elsewhere) and closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.renewTimer);
    // Said first, so the control plane takes the close that follows for a departure, not a failure.
    if (this.connected) this.send({ type: 'leaving' });
    // Waiting for `reported`, not for the process alone: the result must be journaled and sent
    // before the wait for acknowledgements below, or the socket closes with it unsaid.
    const pending = [...this.running.values()].map((r) => {
      r.handle.cancel('agent is shutting down');
      return r.reported;
    });
    await Promise.all(pending);
    // Give the final results a moment to reach the control plane and be acknowledged.
    const deadline = Date.now() + 2000;
    while (this.connected && this.journal.pending().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    clearInterval(this.heartbeatTimer);
    await this.prober?.stop();
    // Undefined when stopped before start() got this far.
    await (this.data as AgentData | undefined)?.close();
    this.ws?.close(1000, 'agent stopping');
    await this.journal.close();
    this.groups?.close();
  }

  private async connectLoop(): Promise<void> {
    if (this.stopping) return;
    try {
      if (!this.credential) this.credential = await this.joinCluster();
      else if (this.dataCertificateStale(this.credential)) await this.renewCredential(this.credential);
      await this.openSocket(this.credential);
    } catch (error) {
      if (error instanceof JoinRefused) {
        this.options.log.fatal(error.message);
        process.exitCode = 2;
        await this.stop();
        return;
      }
      this.retryLater(error);
    }
  }

  private async joinCluster(): Promise<NodeCredential> {
    const token = this.options.joinToken;
    if (!token) throw new JoinRefused('unauthorized', `node ${this.nodeName} has no credential in ${this.options.dataDir}; start it with --join-token`);
    const credential = await join(this.options.serverUrl, token, this.nodeName, this.options.node.labels, this.options.dataDir, this.dialableDataHost());
    await saveCredential(this.options.dataDir, credential);
    const dataCertificate = await this.dataCertificateOf(credential);
    if (dataCertificate !== undefined) this.data.setCertificate(dataCertificate);
    this.options.log.info({ node: this.nodeName }, 'joined the cluster; credential saved');
    return credential;
  }

  /** The data host to get a data server certificate for; none for a wildcard listen without --data-url (peers cannot dial it anyway). */
  private dialableDataHost(): string | undefined {
    const host = this.data.dataHost;
    if (host === null) return undefined;
    if (host === '0.0.0.0' || host === '::') {
      this.options.log.warn('the data server listens on a wildcard address and no --data-url says where peers reach it: no data server certificate, so peers cannot fetch from this node over TLS');
      return undefined;
    }
    return host;
  }

  private retryLater(error: unknown): void {
    if (this.stopping) return;
    const delay = this.backoff.next();
    const message = error instanceof Error ? error.message : String(error);
    this.options.log.warn({ retryInMs: delay }, `control plane not reachable: ${message}`);
    this.reconnectTimer = setTimeout(() => void this.connectLoop(), delay);
  }

  private async openSocket(credential: NodeCredential): Promise<void> {
    const url = new URL('/v1/agents/connect', this.options.serverUrl);
    const secure = url.protocol === 'https:';
    url.protocol = secure ? 'wss:' : 'ws:';
    if (secure !== (credential.certificate !== undefined)) {
      throw new JoinRefused('unauthorized', secure
        ? `the credential in ${this.options.dataDir} is for a plain-HTTP (--insecure) control plane; this one serves TLS: remove ${this.options.dataDir}/node-credential.json and join again with a join token`
        : `the credential in ${this.options.dataDir} is a TLS certificate, but --server is plain http; use the https:// address`);
    }
    // Mutual TLS: the node proves who it is with its certificate and trusts only the cluster CA.
    const auth = secure
      ? { ca: credential.ca, cert: credential.certificate, key: (await nodeKeys(this.options.dataDir)).privateKeyPem }
      : { headers: { authorization: `Bearer ${credential.credential ?? ''}` } };
    const ws = new WebSocket(url, { ...auth, maxPayload: MAX_MESSAGE_BYTES });
    this.ws = ws;
    let failed = false;
    ws.on('unexpected-response', (_request, response) => {
      failed = true;
      ws.terminate();
      const refused = response.statusCode === 401 || response.statusCode === 403;
      if (refused && this.options.joinToken) {
        // The credential was revoked or the control plane's data was reset: join again (a revoked
        // node is refused there too, unless the token was made after the revocation).
        this.options.log.warn(`node credential refused (HTTP ${response.statusCode}); joining again with the join token`);
        this.credential = undefined;
        this.retryLater(new Error('credential refused'));
      } else if (refused) {
        const expired = credential.certificate !== undefined && Date.parse(new X509Certificate(credential.certificate).validTo) <= Date.now();
        this.options.log.fatal(expired
          ? `the node certificate expired at ${new X509Certificate(credential.certificate!).validTo} (the agent was off for longer than its lifetime, so it could not renew it); start the agent once with a join token to join again`
          : `node credential refused (HTTP ${response.statusCode}) and no --join-token given; cannot connect`);
        process.exitCode = 2;
        void this.stop();
      } else {
        this.retryLater(new Error(`HTTP ${response.statusCode} on connect`));
      }
    });
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => {
      this.lastHeardAt = Date.now();
      if (isBinary) this.data.frame(data as Buffer);
      else this.onMessage(data.toString());
    });
    ws.on('pong', () => (this.lastHeardAt = Date.now()));
    ws.on('error', (error) => {
      if (!this.connected && !failed) {
        failed = true;
        this.retryLater(error);
      }
    });
    ws.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      clearInterval(this.heartbeatTimer);
      if (this.ws === ws) this.data.disconnected();
      if (wasConnected && !this.stopping) this.retryLater(new Error('connection closed'));
    });
  }

  private onOpen(ws: WebSocket): void {
    this.lastHeardAt = Date.now();
    // Probe targets are this agent's business; the control plane gets what they measured.
    const { probes: _probes, ...spec } = this.options.node;
    // The agent's word on sandboxing wins over a label of the same name in the node's config.
    const labels = this.sandbox === undefined ? spec.labels : { ...spec.labels, [SANDBOX_LABEL]: this.sandbox.kind === 'bwrap' ? 'bwrap' : 'none' };
    this.rttSent = this.currentRttMs();
    this.send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      agentVersion: AGENT_VERSION,
      node: { ...spec, labels, rttMs: this.rttSent },
      dataUrl: this.data.url,
      running: [...this.running.values()].map((r) => ({ attemptId: r.assignment.attemptId, epoch: r.assignment.epoch, startedAt: r.startedAt })),
      finished: this.journal.pending().map((r) => r.attemptId),
    }, ws);
    this.connected = true;
  }

  private onMessage(text: string): void {
    let message: ServerMessage;
    try {
      message = parseOrThrow(serverMessage, JSON.parse(text), 'server message');
    } catch (error) {
      this.options.log.error({ err: error }, 'ignoring a message the agent does not understand');
      return;
    }
    switch (message.type) {
      case 'welcome':
        // Reset only once the control plane has accepted us: a refused hello keeps backing off.
        this.backoff.reset();
        this.options.log.info({ node: message.node }, 'connected to the control plane');
        clearInterval(this.heartbeatTimer);
        this.heartbeatMs = message.heartbeatMs;
        this.data.welcome(message.dataPublicKey, message.residencyClasses);
        this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), message.heartbeatMs);
        this.scheduleRenewal();
        this.sendHeartbeat();
        // Output buffered while cut off goes first: the server drops logs of attempts it has closed.
        this.flush();
        this.resendHeldResults();
        return;
      case 'attempts.run':
        for (const assignment of message.attempts) this.run(assignment);
        return;
      case 'attempts.cancel':
        for (const { attemptId, reason } of message.attempts) this.running.get(attemptId)?.handle.cancel(reason);
        return;
      case 'results.ack':
        void this.journal.acknowledge(message.attemptIds).catch((error: unknown) => this.options.log.error({ err: error }, 'could not record acknowledgements'));
        return;
      case 'error':
        this.options.log.error({ code: message.code }, `control plane: ${message.message}`);
        return;
      case 'data.classes':
      case 'data.register':
      case 'data.remove':
      case 'relay.open':
      case 'relay.credit':
      case 'relay.end':
      case 'relay.cancel':
        this.data.handle(message);
        return;
    }
  }

  private run(assignment: AttemptAssignment): void {
    if (this.stopping || this.running.has(assignment.attemptId)) return;
    const start = () => this.driver.start(assignment, {
      onStarted: (startedAt) => {
        const entry = this.running.get(assignment.attemptId);
        if (entry) entry.startedAt = startedAt;
        this.outStarted.push({ attemptId: assignment.attemptId, epoch: assignment.epoch, startedAt });
        this.scheduleFlush();
      },
      onLog: (stream, data) => this.queueLog(assignment.attemptId, stream, data),
    });
    const data = this.data;
    const dirs = attemptDirs(joinPath(this.options.dataDir, 'attempts'), assignment.attemptId);
    const inputDir = dirs.input;
    const handle = (assignment.inputs ?? []).length === 0
      ? start()
      : withStagedInputs(assignment, async (signal) => {
        try {
          await data.stage(assignment, inputDir, signal);
        } catch (error) {
          // The driver never ran, so nothing else clears what was staged before the failure.
          await rm(inputDir, { recursive: true, force: true });
          throw error;
        }
      }, start);
    const reported = handle.result.then(async (outcome) => {
      let result: AttemptResult = { attemptId: assignment.attemptId, epoch: assignment.epoch, ...outcome, reason: clampReason(outcome.reason) };
      if (result.outcome === 'succeeded' && assignment.output !== undefined) {
        // Taken in before the result is journaled, so the result names partitions that exist.
        try {
          result = { ...result, outputs: await data.collectOutputs(assignment.output, dirs.output) };
        } catch (error) {
          result = { ...result, outcome: 'failed', reason: clampReason(`the task succeeded but its outputs could not be kept: ${error instanceof Error ? error.message : String(error)}`) };
        }
      }
      try {
        await this.journal.append(result);
      } catch (error) {
        // Without a durable record the result could be lost on a crash; report it anyway, loudly.
        this.options.log.error({ err: error, attemptId: assignment.attemptId }, 'could not journal a result');
      }
      this.running.delete(assignment.attemptId);
      this.flush();
      this.send({ type: 'attempts.results', results: [result] });
    });
    this.running.set(assignment.attemptId, { assignment, handle, startedAt: null, reported });
  }

  private queueLog(attemptId: string, stream: LogStream, data: string): void {
    for (let i = 0; i < data.length; ) {
      const end = pieceEnd(data, i, MAX_LOG_CHUNK_CHARS);
      const piece = data.slice(i, end);
      i = end;
      if (!this.connected && this.outLogChars + piece.length > MAX_OFFLINE_LOG_CHARS) return;
      this.outLogs.push({ attemptId, stream, time: Date.now(), data: piece });
      this.outLogChars += piece.length;
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what the outbox holds: starts first, then logs, so both precede any later result. */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.connected) {
      this.outStarted = []; // the next hello reports what runs and when it started
      return;
    }
    while (this.outStarted.length > 0) this.send({ type: 'attempts.started', attempts: this.outStarted.splice(0, MAX_BATCH) });
    while (this.outLogs.length > 0) {
      let chars = 0;
      let count = 0;
      // JSON may spend up to 6 bytes on one character (a control character becomes \u0001): stay under the limit even then.
      while (count < this.outLogs.length && count < MAX_BATCH && chars < MAX_MESSAGE_BYTES / 8) chars += this.outLogs[count++]!.data.length;
      this.send({ type: 'attempts.logs', chunks: this.outLogs.splice(0, count) });
    }
    this.outLogChars = 0;
  }

  private resendHeldResults(): void {
    const held = this.journal.pending();
    for (let i = 0; i < held.length; i += MAX_BATCH) this.send({ type: 'attempts.results', results: held.slice(i, i + MAX_BATCH) });
  }

  /** Renews the node certificate 60% into its life, over mutual TLS; a failure retries in 5 s. */
  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const certificate = this.credential?.certificate;
    if (certificate === undefined || this.stopping) return;
    const delay = Math.max(0, renewAt(certificate) - Date.now());
    // setTimeout holds at most about 24.8 days; a later renewal is rescheduled when it fires.
    this.renewTimer = setTimeout(() => void this.renewNow(), Math.min(delay, 2 ** 31 - 1));
  }

  private async renewNow(): Promise<void> {
    const credential = this.credential;
    if (credential?.certificate === undefined || this.stopping) return;
    if (renewAt(credential.certificate) > Date.now()) return this.scheduleRenewal();
    try {
      await this.renewCredential(credential);
      this.scheduleRenewal();
    } catch (error) {
      this.options.log.warn({ err: error }, 'node certificate renewal failed; retrying in 5 s');
      clearTimeout(this.renewTimer);
      if (!this.stopping) this.renewTimer = setTimeout(() => void this.renewNow(), 5000);
    }
  }

  /** Renews the node certificate and, when this node serves data, its data server certificate, which the data server takes at once. */
  private async renewCredential(credential: NodeCredential): Promise<NodeCredential> {
    const renewed = await renew(this.options.serverUrl, credential, this.options.dataDir, this.dialableDataHost());
    await saveCredential(this.options.dataDir, renewed);
    const dataCertificate = await this.dataCertificateOf(renewed);
    if (dataCertificate !== undefined) this.data.setCertificate(dataCertificate);
    this.credential = renewed;
    this.options.log.info({ validTo: new X509Certificate(renewed.certificate!).validTo }, 'node certificate renewed');
    return renewed;
  }

  /** The credential's data server certificate with the node's key (the same key as its node certificate), if it has one. */
  private async dataCertificateOf(credential: NodeCredential | undefined): Promise<DataServerCertificate | undefined> {
    if (credential?.dataCertificate === undefined) return undefined;
    return { cert: credential.dataCertificate, key: (await nodeKeys(this.options.dataDir)).privateKeyPem };
  }

  /**
   * True when the saved credential has no data server certificate for the host this node now
   * advertises: saved before data TLS, or the agent was restarted with another --data-url or
   * --data-listen. Peers could not verify its data server, so it is renewed before hello.
   */
  private dataCertificateStale(credential: NodeCredential): boolean {
    const host = this.dialableDataHost();
    if (credential.certificate === undefined || host === undefined) return false;
    if (credential.dataCertificate === undefined || credential.dataCa === undefined) return true;
    const cert = new X509Certificate(credential.dataCertificate);
    return (isIP(host) ? cert.checkIP(host) : cert.checkHost(host)) === undefined;
  }

  /** Also a liveness probe of the control plane: a link silent for several beats is dropped and redialled. */
  private sendHeartbeat(): void {
    const ws = this.ws;
    if (ws && this.connected && Date.now() - this.lastHeardAt > this.heartbeatMs * 5 + 2000) {
      this.options.log.warn('no answer from the control plane; reconnecting');
      ws.terminate();
      return;
    }
    if (ws?.readyState === WebSocket.OPEN) ws.ping();
    let cpuMillis = 0;
    let memoryBytes = 0;
    for (const { assignment } of this.running.values()) {
      cpuMillis += assignment.cpuMillis;
      memoryBytes += assignment.memoryBytes;
    }
    // Round trips go out only when they changed since the last message that carried them: they
    // change once per probe round at most, and a WebSocket loses nothing short of a reconnect,
    // whose hello carries them again.
    const rttMs = this.currentRttMs();
    const rttChanged = !sameRtt(rttMs, this.rttSent);
    if (rttChanged) this.rttSent = rttMs;
    this.send({
      type: 'heartbeat',
      usage: { runningAttempts: this.running.size, cpuMillis, memoryBytes, loadAvg1: loadavg()[0] ?? 0 },
      ...(rttChanged ? { rttMs } : {}),
    });
  }

  /** Configured round trips, overridden region by region by the latest measurements. */
  private currentRttMs(): Readonly<Record<string, number>> {
    const measured = this.prober?.latest;
    return measured === undefined ? this.options.node.rttMs : { ...this.options.node.rttMs, ...measured };
  }

  private send(message: AgentMessage, ws: WebSocket | undefined = this.ws): void {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (message.type !== 'hello' && !this.connected) return;
    ws.send(JSON.stringify(message));
  }
}
