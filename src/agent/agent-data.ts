import type { KeyObject } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { importPublicKey } from '../protocol/data-token.js';
import { MAX_OUTPUT_FILES, type AgentMessage, type AttemptAssignment, type AttemptOutput, type ServerMessage } from '../protocol/messages.js';
import { stageInputs } from './input-staging.js';
import { DataServer, type DataServerCertificate } from './data-server.js';
import { PartitionAccess, type ResidencyRule } from './partition-access.js';
import { PartitionStore, type PartitionRef } from './partition-store.js';
import { RelayEndpoint } from './relay-endpoint.js';

// The agent's data side: its partition store, the HTTP server peers and clients reach it on (if
// it has a reachable address), transfers relayed through the control-plane connection (always
// available; the only way in when it has none), and the data messages of the control plane (its
// token key, residency classes, register, remove).

/** Largest partition this agent takes in (uploads, registrations). */
export const MAX_PARTITION_BYTES = 64 * 2 ** 30;

export interface AgentDataOptions {
  readonly dataDir: string;
  readonly nodeName: string;
  /** The control plane's URL: relayed input URLs are paths on it. */
  readonly serverUrl: string;
  /** The cluster CA once the node has joined (undefined with --insecure), for fetches through the relay. */
  readonly serverCa: () => string | undefined;
  /** The data CA, which signs peers' data server certificates (TLS fleets). */
  readonly dataCa: () => string | undefined;
  /** Where to listen; the advertised URL defaults to it. Null: no data server, every transfer is relayed. */
  readonly listen: { readonly host: string; readonly port: number } | null;
  /** The URL peers use (behind a proxy or NAT mapping); default http://host:port of `listen`. */
  readonly advertise?: string;
  /** TLS fleets: the data server serves HTTPS (its certificate comes with the node's credential, see setCertificate). */
  readonly secure?: boolean;
  /** The data server certificate already held (from the saved credential), if any. */
  readonly certificate?: DataServerCertificate;
  readonly log: Logger;
  readonly send: (message: AgentMessage) => void;
  /** Sends a binary frame of a relayed transfer on the control-plane connection; resolves once it has left. */
  readonly sendFrame: (frame: Buffer) => Promise<void>;
}

type DataMessage = Extract<ServerMessage, { type: `data.${string}` | `relay.${string}` }>;

export class AgentData {
  private publicKey: KeyObject | undefined;
  private residency = new Map<string, ResidencyRule>();

  private constructor(
    private readonly options: AgentDataOptions,
    private readonly store: PartitionStore,
    private readonly relay: RelayEndpoint,
    private readonly server: DataServer | undefined,
    /** What the control plane is told to use; null: reach this node's data through the relay. */
    readonly url: string | null,
  ) {}

  static async start(options: AgentDataOptions): Promise<AgentData> {
    const store = await PartitionStore.open(join(options.dataDir, 'data'));
    let self: AgentData | undefined;
    const access = new PartitionAccess({
      store,
      nodeName: options.nodeName,
      publicKey: () => self?.publicKey,
      residency: (residencyClass) => self?.residency.get(residencyClass),
      maxUploadBytes: MAX_PARTITION_BYTES,
      onStored: (ref, entry) => options.send({ type: 'data.stored', ...ref, sha256: entry.sha256, bytes: entry.bytes, residencyClass: entry.residencyClass, createdBy: 'upload' }),
      onRefused: (refusal) => {
        options.log.warn({ ...refusal.ref, for: refusal.for }, `refused to serve a partition: ${refusal.reason}`);
        options.send({ type: 'data.refused', ...refusal.ref, for: refusal.for, forJurisdiction: refusal.forJurisdiction, reason: refusal.reason, policy: refusal.policy });
      },
    });
    const relay = new RelayEndpoint({ access, send: options.send, sendFrame: options.sendFrame, log: options.log });
    if (options.listen === null) return (self = new AgentData(options, store, relay, undefined, null));
    const server = new DataServer({
      access, onInternalError: (error) => options.log.error({ err: error }, 'data request failed'),
      ...(options.secure ? { tls: options.certificate ?? ('pending' as const) } : {}),
    });
    const bound = await server.listen(options.listen.host, options.listen.port);
    const host = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
    const scheme = options.secure ? 'https' : 'http';
    let url = options.advertise ?? `${scheme}://${host}:${bound.port}`;
    if (options.secure && url.startsWith('http:')) {
      // TLS fleet: the data server speaks only HTTPS, whatever scheme --data-url was written with.
      url = `https:${url.slice('http:'.length)}`;
      options.log.warn({ dataUrl: url }, '--data-url says http://, but in a TLS fleet the data server serves HTTPS only: advertising https://');
    }
    self = new AgentData(options, store, relay, server, url);
    return self;
  }

  /** The host peers dial (the data server certificate's only name); null without a data server. */
  get dataHost(): string | null {
    if (this.url === null) return null;
    const host = new URL(this.url).hostname;
    return host.startsWith('[') ? host.slice(1, -1) : host;
  }

  /** A data server certificate from join or renewal. */
  setCertificate(certificate: DataServerCertificate): void {
    this.server?.setCertificate(certificate);
  }

  /** From `welcome`: the key that signs data tokens, and the residency classes in force. */
  welcome(dataPublicKey: string | undefined, residencyClasses: Readonly<Record<string, readonly string[]>> | undefined): void {
    if (dataPublicKey !== undefined) this.publicKey = importPublicKey(dataPublicKey);
    if (residencyClasses !== undefined) this.setClasses(residencyClasses);
  }

  handle(message: DataMessage): void {
    switch (message.type) {
      case 'data.classes':
        this.setClasses(message.residencyClasses);
        return;
      case 'data.register':
        void this.register(message);
        return;
      case 'data.remove':
        void this.remove(message.partitions);
        return;
      case 'relay.open':
      case 'relay.credit':
      case 'relay.end':
      case 'relay.cancel':
        this.relay.handle(message);
        return;
    }
  }

  /** A binary frame on the control-plane connection: bytes of a relayed upload. */
  frame(data: Buffer): void {
    this.relay.frame(data);
  }

  /** The control-plane connection closed: relayed transfers stop (the other side has failed them). */
  disconnected(): void {
    this.relay.closeAll();
  }

  async close(): Promise<void> {
    this.relay.closeAll();
    await this.server?.close();
    await this.store.close();
  }

  /**
   * The regular files at the top of the attempt's output dir, taken into the store as partitions
   * `<prefix><file name>` of the output dataset (then removed from the dir: the store has them).
   */
  async collectOutputs(output: AttemptOutput, outputDir: string): Promise<{ partition: string; sha256: string; bytes: number }[]> {
    const entries = await readdir(outputDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const files = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
    if (files.length > MAX_OUTPUT_FILES) throw new Error(`it wrote ${files.length} files to its output dir; at most ${MAX_OUTPUT_FILES} are kept (pack them into fewer)`);
    const stored: { partition: string; sha256: string; bytes: number }[] = [];
    for (const file of files) {
      const ref = { namespace: output.namespace, dataset: output.dataset, partition: `${output.prefix}${file}` };
      const entry = await this.store.register(ref, join(outputDir, file), { maxBytes: MAX_PARTITION_BYTES, residencyClass: output.residencyClass });
      stored.push({ partition: ref.partition, sha256: entry.sha256, bytes: entry.bytes });
    }
    await rm(outputDir, { recursive: true, force: true });
    return stored;
  }

  /** Puts the attempt's inputs in its input dir; each one fetched from another node is reported for the ledger. */
  stage(assignment: AttemptAssignment, inputDir: string, signal: AbortSignal): Promise<void> {
    return stageInputs({
      inputs: assignment.inputs ?? [], inputDir, nodeName: this.options.nodeName, serverUrl: this.options.serverUrl, serverCa: this.options.serverCa(), dataCa: this.options.dataCa(), store: this.store, signal,
      onTransfer: ({ input, bytes, durationMs }) => this.options.send({
        type: 'data.transferred', namespace: input.namespace, dataset: input.dataset, partition: input.partition,
        attemptId: assignment.attemptId, from: input.node, bytes, durationMs,
      }),
    });
  }

  private setClasses(classes: Readonly<Record<string, readonly string[]>>): void {
    this.residency = new Map(Object.entries(classes).map(([name, codes]) => [name, { jurisdictions: new Set(codes), policy: null }]));
  }

  private async register(message: Extract<DataMessage, { type: 'data.register' }>): Promise<void> {
    const { requestId, path, residencyClass, namespace, dataset, partition } = message;
    try {
      const entry = await this.store.register({ namespace, dataset, partition }, path, { maxBytes: MAX_PARTITION_BYTES, residencyClass });
      this.options.send({ type: 'data.stored', requestId, namespace, dataset, partition, sha256: entry.sha256, bytes: entry.bytes, residencyClass, createdBy: 'register' });
    } catch (error) {
      this.options.send({ type: 'data.failed', requestId, message: error instanceof Error ? error.message : String(error) });
    }
  }

  private async remove(refs: readonly PartitionRef[]): Promise<void> {
    for (const ref of refs) {
      try {
        await this.store.remove(ref);
      } catch (error) {
        this.options.log.error({ err: error, ...ref }, 'could not remove a partition');
      }
    }
  }
}
