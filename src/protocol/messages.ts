import { z } from 'zod';
import { dataNameSchema, sha256Schema } from '../core/data-spec.js';
import { MAX_TASK_INPUTS, NAME_PATTERN } from '../core/job-spec.js';
import { MAX_SECRET_BYTES, MAX_SECRETS_PER_STAGE, SECRET_FILE_PATTERN } from '../core/secret-spec.js';
import { nodeSpecSchema, rttMsSchema } from '../core/node-spec.js';

// Messages on the agent's one outbound WebSocket. Every message is a JSON object with `type`.
// High-volume kinds carry arrays so both sides can batch everything produced in one tick.

export const PROTOCOL_VERSION = 1;
/** Largest WebSocket message either side accepts. */
export const MAX_MESSAGE_BYTES = 8 * 2 ** 20;
/** Largest log chunk an agent sends; longer output is split. */
export const MAX_LOG_CHUNK_CHARS = 64 * 1024;
/** Longest failure reason carried in a result; agents shorten longer ones. */
export const MAX_REASON_CHARS = 2000;

/** A reason cut to what the protocol carries, marked so nobody mistakes it for the whole. */
export function clampReason(reason: string | null): string | null {
  if (reason === null || reason.length <= MAX_REASON_CHARS) return reason;
  return `${reason.slice(0, pieceEnd(reason, 0, MAX_REASON_CHARS - 15))} …[truncated]`;
}

/**
 * Where a piece of `text` starting at `start` and at most `max` UTF-16 units long ends, moved one
 * back rather than split a surrogate pair: half a pair is not UTF-8, and the server refuses it.
 */
export function pieceEnd(text: string, start: number, max: number): number {
  const end = Math.min(text.length, start + max);
  if (end < text.length && end - start > 1) {
    const last = text.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) return end - 1;
  }
  return end;
}

const attemptRef = z.strictObject({ attemptId: z.string().min(1).max(200), epoch: z.number().int().min(1) });

const usageSchema = z.strictObject({
  runningAttempts: z.number().int().min(0),
  cpuMillis: z.number().min(0),
  memoryBytes: z.number().min(0),
  loadAvg1: z.number().min(0),
});

// ---- agent -> server ----

export const helloMessage = z.strictObject({
  type: z.literal('hello'),
  protocol: z.number().int(),
  agentVersion: z.string().max(64),
  // Normalised node spec (cpu millicores, memory bytes), so both sides agree on units.
  node: nodeSpecSchema.safeExtend({ cpu: z.number().int().min(1), memory: z.number().int().min(1) }),
  /** Where the agent serves partitions to peers; absent or null when it cannot be reached (behind NAT). */
  dataUrl: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional(),
  /** Attempts the agent is running right now (and when each started), so the control plane can reconcile. */
  running: z.array(attemptRef.extend({ startedAt: z.number().nullable().optional() })).max(100_000),
  /** Attempts whose results the agent holds on disk, not yet acknowledged; they follow in `attempts.results`. */
  finished: z.array(z.string().max(200)).max(100_000),
});

export const heartbeatMessage = z.strictObject({
  type: z.literal('heartbeat'),
  usage: usageSchema,
  /**
   * The node's round trips by region: configured `rttMs` overridden by what the agent measured.
   * Sent when it changed since the last one sent (hello carries it too); left out, nothing changed.
   */
  rttMs: rttMsSchema.optional(),
});

export const startedMessage = z.strictObject({
  type: z.literal('attempts.started'),
  attempts: z.array(attemptRef.extend({ startedAt: z.number() })).min(1).max(10_000),
});

export const logMessage = z.strictObject({
  type: z.literal('attempts.logs'),
  chunks: z
    .array(
      z.strictObject({
        attemptId: z.string().min(1).max(200),
        stream: z.enum(['stdout', 'stderr']),
        time: z.number(),
        data: z.string().max(MAX_LOG_CHUNK_CHARS),
      }),
    )
    .min(1)
    .max(10_000),
});

/** Files of one attempt's output dir taken in as partitions; more are refused (the task fails). */
export const MAX_OUTPUT_FILES = 1000;

export const attemptResultSchema = attemptRef.extend({
  outcome: z.enum(['succeeded', 'failed', 'cancelled']),
  exitCode: z.number().int().nullable(),
  /** Why it failed: `exit code 3`, `timed out after 30s`, `executable not found: foo`. */
  reason: z.string().max(MAX_REASON_CHARS).nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number(),
  /** Files the task wrote to its output dir, now partitions in the agent's store (job `output`). */
  outputs: z.array(z.strictObject({ partition: dataNameSchema('partition name'), sha256: sha256Schema, bytes: z.number().int().min(0) })).max(MAX_OUTPUT_FILES).optional(),
});
export type AttemptResult = z.infer<typeof attemptResultSchema>;

export const resultsMessage = z.strictObject({
  type: z.literal('attempts.results'),
  results: z.array(attemptResultSchema).min(1).max(10_000),
});

/**
 * The agent is shutting down on purpose (SIGTERM): its attempts were stopped and reported, and
 * the connection's close that follows means the node left, not that it became unreachable.
 */
export const leavingMessage = z.strictObject({
  type: z.literal('leaving'),
});

// Data: the agent's partition store (src/agent/data/) and the control plane's catalog.

// Names an agent reports become paths on other nodes: held to the catalog's rules, not just lengths.
const dataName = dataNameSchema('name');
const partitionRef = z.strictObject({ namespace: z.string().regex(NAME_PATTERN), dataset: dataName, partition: dataName });

/** A partition is now in the agent's store: uploaded, registered, or (later) written by a task. */
export const dataStoredMessage = partitionRef.extend({
  type: z.literal('data.stored'),
  /** Set when this answers a `data.register`. */
  requestId: z.string().max(100).optional(),
  sha256: sha256Schema,
  bytes: z.number().int().min(0),
  residencyClass: z.string().max(63).nullable(),
  createdBy: z.string().min(1).max(200),
});

/** A `data.register` the agent could not carry out (no such file, not readable, ...). */
export const dataFailedMessage = z.strictObject({
  type: z.literal('data.failed'),
  requestId: z.string().max(100),
  message: z.string().max(MAX_REASON_CHARS),
});

/** The agent refused to serve a partition (residency, a token for something else): for the event log. */
export const dataRefusedMessage = partitionRef.extend({
  type: z.literal('data.refused'),
  for: z.string().max(253),
  forJurisdiction: z.string().max(8).nullable(),
  reason: z.string().max(MAX_REASON_CHARS),
  policy: z.string().max(200).nullable(),
});

/** A partition crossed the network for an attempt: the transfer ledger's entry. */
export const dataTransferredMessage = partitionRef.extend({
  type: z.literal('data.transferred'),
  attemptId: z.string().max(200),
  /** The node it came from. */
  from: z.string().max(253),
  bytes: z.number().int().min(0),
  durationMs: z.number().min(0),
});

// Relayed transfers: a node with no reachable data address (behind NAT, --no-data-server) has its
// partitions read and written through its control-plane connection. Each transfer is a numbered
// stream; its bytes travel as binary frames (a 4-byte big-endian stream number, then the bytes),
// and a sender may have at most RELAY_WINDOW_BYTES unacknowledged: the receiver grants more with
// `relay.credit` as it passes bytes on, so a slow side slows the other instead of filling memory.

/** Largest payload of one binary frame. */
export const RELAY_CHUNK_BYTES = 256 * 1024;
/** Bytes a sender may have in flight on one stream before the receiver's next credit. */
export const RELAY_WINDOW_BYTES = 4 * 2 ** 20;
/** Bytes of the frame header: the stream number. */
export const RELAY_FRAME_HEADER_BYTES = 4;

const relayStream = z.number().int().min(1).max(2 ** 32 - 1);

/** More bytes may be sent on the stream (both directions). */
export const relayCreditMessage = z.strictObject({ type: z.literal('relay.credit'), stream: relayStream, bytes: z.number().int().min(1).max(RELAY_WINDOW_BYTES) });
/** The sender has sent all of the stream's bytes (both directions). */
export const relayEndMessage = z.strictObject({ type: z.literal('relay.end'), stream: relayStream });
/** The stream is abandoned: the client hung up, a read failed (both directions). */
export const relayCancelMessage = z.strictObject({ type: z.literal('relay.cancel'), stream: relayStream, reason: z.string().max(MAX_REASON_CHARS) });

/**
 * The holder's answer to `relay.open`: for a read, 200 with the size and checksum (the bytes
 * follow); for a write, 201 with what was stored once the body is in; otherwise the refusal.
 */
export const relayReplyMessage = z.strictObject({
  type: z.literal('relay.reply'),
  stream: relayStream,
  status: z.number().int().min(200).max(599),
  sha256: sha256Schema.optional(),
  bytes: z.number().int().min(0).optional(),
  error: z.strictObject({ code: z.string().max(100), message: z.string().max(MAX_REASON_CHARS) }).optional(),
});

export const agentMessage = z.discriminatedUnion('type', [
  helloMessage,
  heartbeatMessage,
  startedMessage,
  logMessage,
  resultsMessage,
  leavingMessage,
  dataStoredMessage,
  dataFailedMessage,
  dataRefusedMessage,
  dataTransferredMessage,
  relayReplyMessage,
  relayCreditMessage,
  relayEndMessage,
  relayCancelMessage,
]);
export type AgentMessage = z.infer<typeof agentMessage>;
export type HelloMessage = z.infer<typeof helloMessage>;

// ---- server -> agent ----

/** Where an attempt's output files go: partitions `<prefix><file name>` of the dataset. */
export const attemptOutputSchema = z.strictObject({
  namespace: z.string(),
  dataset: z.string(),
  prefix: z.string().max(100),
  residencyClass: z.string().nullable(),
});
export type AttemptOutput = z.infer<typeof attemptOutputSchema>;

/** One partition an attempt reads: from its own store (`url` null) or fetched from the holder with `token`. */
export const attemptInputSchema = z.strictObject({
  namespace: z.string(),
  dataset: z.string(),
  partition: z.string(),
  sha256: sha256Schema,
  bytes: z.number().int().min(0),
  /** The node that holds it. */
  node: z.string(),
  /** Where to GET it; null when this node holds it. */
  url: z.string().nullable(),
  token: z.string().nullable(),
});
export type AttemptInput = z.infer<typeof attemptInputSchema>;

/**
 * A secret for the attempt's process only: an environment variable, or a file (mode 0600) in
 * $ATOLL_SECRETS_DIR. The agent checks the file name again: it must never climb out of that dir.
 */
export const attemptSecretSchema = z.union([
  z.strictObject({ name: z.string().max(63), value: z.string().max(MAX_SECRET_BYTES), env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }),
  z.strictObject({ name: z.string().max(63), value: z.string().max(MAX_SECRET_BYTES), file: z.string().regex(SECRET_FILE_PATTERN) }),
]);
export type AttemptSecret = z.infer<typeof attemptSecretSchema>;
/** The spec's `limits` (bytes, milliseconds, counts); what is left out the agent derives from the resources. */
export const attemptLimitsSchema = z.strictObject({
  memory: z.number().int().min(1).optional(),
  cpuTime: z.number().int().min(1).optional(),
  processes: z.number().int().min(1).optional(),
  openFiles: z.number().int().min(1).optional(),
});
export type AttemptLimits = z.infer<typeof attemptLimitsSchema>;

export const attemptAssignmentSchema = z.strictObject({
  attemptId: z.string(),
  epoch: z.number().int(),
  taskId: z.string(),
  jobId: z.string(),
  index: z.number().int(),
  /** The task's stage, and its index among that stage's tasks (`index` counts across the job). */
  stage: z.string(),
  stageIndex: z.number().int().min(0),
  command: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  cpuMillis: z.number().int(),
  memoryBytes: z.number().int(),
  timeoutMs: z.number().int().nullable(),
  killGraceMs: z.number().int(),
  /** Data to place in $ATOLL_INPUT_DIR/<dataset>/<partition> before the command starts. */
  inputs: z.array(attemptInputSchema).max(MAX_TASK_INPUTS).optional(),
  /** Take the files the task writes to $ATOLL_OUTPUT_DIR in as partitions once it succeeds. */
  output: attemptOutputSchema.optional(),
  /** The job's secrets for this attempt's process; never logged, never written outside the attempt's secrets dir. */
  secrets: z.array(attemptSecretSchema).max(MAX_SECRETS_PER_STAGE).optional(),
  /** The spec asked for the network; left out (older servers too), a sandboxed task has none. */
  network: z.boolean().optional(),
  limits: attemptLimitsSchema.optional(),
});
export type AttemptAssignment = z.infer<typeof attemptAssignmentSchema>;

/** Residency class -> the country codes its data may be read in, from the cluster policies. */
const residencyClassesSchema = z.record(z.string(), z.array(z.string()));

export const welcomeMessage = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int(),
  node: z.string(),
  heartbeatMs: z.number().int(),
  /** The control plane's Ed25519 key for data tokens (SPKI DER, base64). */
  dataPublicKey: z.string().optional(),
  residencyClasses: residencyClassesSchema.optional(),
});

/** The residency classes changed (a policy was applied or deleted). */
export const dataClassesMessage = z.strictObject({
  type: z.literal('data.classes'),
  residencyClasses: residencyClassesSchema,
});

/** Take a file already on the node's disk into the store as a partition (`atoll data register`). */
export const dataRegisterMessage = partitionRef.extend({
  type: z.literal('data.register'),
  requestId: z.string().max(100),
  path: z.string().min(1).max(4096),
  residencyClass: z.string().max(63).nullable(),
});

/** Drop these partitions from the store: they left the catalog. */
export const dataRemoveMessage = z.strictObject({
  type: z.literal('data.remove'),
  partitions: z.array(partitionRef).max(10_000),
});

/** A client or peer asked the control plane for one of this node's partitions (read) or to store one (write). */
export const relayOpenMessage = partitionRef.extend({
  type: z.literal('relay.open'),
  stream: relayStream,
  op: z.enum(['read', 'write']),
  /** The request's `Authorization` header, checked by the agent as its data server would. */
  authorization: z.string().max(4096),
  /** A write's declared size, when the client gave one. */
  bytes: z.number().int().min(0).optional(),
});

export const runMessage = z.strictObject({
  type: z.literal('attempts.run'),
  attempts: z.array(attemptAssignmentSchema),
});

export const cancelMessage = z.strictObject({
  type: z.literal('attempts.cancel'),
  attempts: z.array(z.strictObject({ attemptId: z.string(), reason: z.string() })),
});

/** The control plane has durably recorded these results (accepted or ignored): the agent may forget them. */
export const ackMessage = z.strictObject({
  type: z.literal('results.ack'),
  attemptIds: z.array(z.string()),
});

export const errorMessage = z.strictObject({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
});

export const serverMessage = z.discriminatedUnion('type', [
  welcomeMessage,
  runMessage,
  cancelMessage,
  ackMessage,
  errorMessage,
  dataClassesMessage,
  dataRegisterMessage,
  dataRemoveMessage,
  relayOpenMessage,
  relayCreditMessage,
  relayEndMessage,
  relayCancelMessage,
]);
export type ServerMessage = z.infer<typeof serverMessage>;

// ---- HTTP join exchange (before the WebSocket) ----

export const joinRequestSchema = z.strictObject({
  node: z.string().min(1).max(63),
  /** PEM CSR for the node's own key pair; required when the server serves TLS. */
  csr: z.string().max(16_384).optional(),
  /** The labels the node will claim, checked against a scoped token before anything is issued. */
  labels: z.record(z.string().max(253), z.string().max(253)).optional(),
  /** TLS: a second PEM CSR, for the node's data server (peer partition transfers), with the data host it advertises. */
  dataCsr: z.string().max(16_384).optional(),
  dataHost: z.string().min(1).max(253).optional(),
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;
/** TLS: the node certificate and the CA; --insecure: a bearer credential. */
export const joinResponseSchema = z.strictObject({ node: z.string(), credential: z.string().optional(), certificate: z.string().optional(), ca: z.string().optional(), dataCertificate: z.string().optional(), dataCa: z.string().optional() });
export const renewRequestSchema = z.strictObject({ csr: z.string().max(16_384), dataCsr: z.string().max(16_384).optional(), dataHost: z.string().min(1).max(253).optional() });
export type RenewRequest = z.infer<typeof renewRequestSchema>;
export type JoinResponse = z.infer<typeof joinResponseSchema>;
