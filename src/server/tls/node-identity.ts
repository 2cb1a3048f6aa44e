import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { AtollError } from '../../core/errors.js';
import { randomSuffix } from '../../core/ids.js';
import { NAME_PATTERN } from '../../core/job-spec.js';
import { CLOCK_SLACK_MS } from '../../protocol/certificate-request.js';
import type { JoinRequest, JoinResponse, RenewRequest } from '../../protocol/messages.js';
import type { JoinTokenView } from '../../core/access.js';
import type { IdentityStore, JoinTokenRecord, NodeIdentityRecord } from '../../store/identity-store.js';
import type { Store } from '../../store/store.js';
import { bearerSecret, hashSecret, newToken } from '../auth/tokens.js';
import type { ControlPlane } from '../control-plane.js';
import { CLIENT_AUTH_OID, signDataServerCsr, signNodeCsr, type CertificateAuthority } from './certificate-authority.js';
import { newJoinSecret } from './join-secrets.js';
import { claimProblem, describeScope, type JoinScope } from './join-scope.js';

export interface NodeIdentityOptions {
  /** Serving TLS: joins must send a CSR and agents connect with their certificate. */
  readonly tls: boolean;
  readonly certLifetimeMs: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Who a node is: the join (token checks, scope, CSR signing), certificate renewal, the check of a
 * client certificate on each connection, and revocation. Node identities are kept in memory too,
 * so the per-connection check costs no query.
 */
export class NodeIdentity {
  private readonly identities = new Map<string, NodeIdentityRecord>();
  private readonly revokedListeners: ((node: string) => void)[] = [];
  private readonly ids: IdentityStore;

  constructor(
    private readonly store: Store,
    private readonly plane: ControlPlane,
    readonly ca: CertificateAuthority,
    private readonly dataCa: CertificateAuthority,
    private readonly options: NodeIdentityOptions,
  ) {
    this.ids = store.identities();
  }

  async start(): Promise<void> {
    for (const identity of await this.ids.listIdentities()) this.identities.set(identity.node, identity);
  }

  close(): void {
    this.revokedListeners.length = 0;
  }

  get tls(): boolean {
    return this.options.tls;
  }

  /** The data CA's certificate: what readers and uploaders trust for nodes' data servers. */
  get dataCaPem(): string {
    return this.dataCa.certPem;
  }

  onRevoked(listener: (node: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /** Exchanges a join token (and, with TLS, a CSR) for the node's certificate or bearer credential. */
  async join(authorization: string | undefined, readRequest: () => JoinRequest): Promise<JoinResponse> {
    // The token is checked before the body is read, so a caller without one learns nothing more.
    const secret = bearerSecret(authorization);
    if (!secret) throw await this.refuseJoin(null, 'unauthorized', 'missing join token: send `Authorization: Bearer <join token>`');
    const token = await this.findJoinToken(secret);
    if (!token) throw await this.refuseJoin(null, 'unauthorized', 'unknown or revoked join token');
    const request = readRequest();
    const { node } = request;
    if (!NAME_PATTERN.test(node)) {
      throw new AtollError('invalid_request', `node: expected a name of lowercase letters, digits and dashes, got ${JSON.stringify(node)}`);
    }
    const now = this.options.clock.now();
    if (token.revokedAt !== null) throw await this.refuseJoin(node, 'unauthorized', `join token ${token.id} was revoked at ${iso(token.revokedAt)}; ask an admin for a new one (\`atoll join-token create\`)`, token.id);
    if (token.expiresAt !== null && now >= token.expiresAt) {
      throw await this.refuseJoin(node, 'unauthorized', `join token ${token.id} expired at ${iso(token.expiresAt)}; ask an admin for a new one (\`atoll join-token create\`)`, token.id);
    }
    if (token.singleUse && token.usedAt !== null) {
      throw await this.refuseJoin(node, 'unauthorized', `join token ${token.id} is single-use and was already used by node ${token.usedBy ?? '?'} at ${iso(token.usedAt)}`, token.id);
    }
    const previous = this.identities.get(node);
    if (previous?.revokedAt != null && token.createdAt <= previous.revokedAt) {
      throw await this.refuseJoin(node, 'forbidden', `node ${node} was revoked at ${iso(previous.revokedAt)}; it may join again only with a join token created after that`, token.id);
    }
    const scope: JoinScope = { pool: token.pool, labels: token.labels };
    if (request.labels !== undefined) {
      const problem = claimProblem(scope, request.labels);
      if (problem) throw await this.refuseJoin(node, 'forbidden', `join token ${token.id} (${describeScope(scope)}) does not allow this node: ${problem}`, token.id);
    }
    if (this.plane.isConnected(node)) {
      throw new AtollError('conflict', `node ${node} is connected right now; a second agent cannot join under its name`);
    }
    if (this.options.tls && request.csr === undefined) {
      throw new AtollError('invalid_request', 'csr: expected a PEM certificate signing request (this server serves TLS; nodes join with a key pair of their own), got none');
    }
    // Signed before the token is spent, so a bad CSR does not use up a single-use token.
    const issued = request.csr === undefined ? undefined : signNodeCsr(this.ca, request.csr, node, this.options.certLifetimeMs, now);
    if (request.dataCsr !== undefined && !issued) {
      throw new AtollError('invalid_request', 'dataCsr: this server does not serve TLS (--insecure); data servers stay plain HTTP');
    }
    const dataIssued = this.signDataCertificate(request, node, now);
    if (token.singleUse && !(await this.ids.useJoinToken(token.id, node, now))) {
      throw await this.refuseJoin(node, 'unauthorized', `join token ${token.id} is single-use and was already used`, token.id);
    }
    const scoped = token.pool !== null || Object.keys(token.labels).length > 0;
    await this.putIdentity({
      node, tokenId: token.id, pool: token.pool, labels: scoped ? token.labels : null,
      serial: issued?.serial ?? null, notAfter: issued?.notAfter ?? null, joinedAt: now, revokedAt: null,
    });
    if (issued) {
      await this.plane.noteIdentity('node.certificate_issued', node, { via: 'join', tokenId: token.id, serial: issued.serial, notAfter: issued.notAfter });
      return { node, certificate: issued.certPem, ca: this.ca.certPem, ...dataIssued };
    }
    // --insecure: a bearer credential, as before TLS.
    const credential = newToken('node', now, { node });
    await this.plane.replaceNodeCredential(node, credential.record);
    return { node, credential: credential.secret };
  }

  /** A new certificate for the node behind a verified client certificate. */
  async renew(socket: TLSSocket | undefined, readRequest: () => RenewRequest): Promise<JoinResponse> {
    const node = await this.nodeFromCertificate(socket);
    const request = readRequest();
    const now = this.options.clock.now();
    const issued = signNodeCsr(this.ca, request.csr, node, this.options.certLifetimeMs, now);
    const dataIssued = this.signDataCertificate(request, node, now);
    const identity = this.identities.get(node)!;
    await this.putIdentity({ ...identity, serial: issued.serial, notAfter: issued.notAfter });
    await this.plane.noteIdentity('node.certificate_issued', node, { via: 'renewal', serial: issued.serial, notAfter: issued.notAfter });
    return { node, certificate: issued.certPem, ca: this.ca.certPem, ...dataIssued };
  }

  /**
   * The data server certificate a join or renewal asks for (with the data CA that signed it), for
   * whatever host the node names: it binds that host to this node's name only, and readers check
   * the name (see signDataServerCsr).
   */
  private signDataCertificate(request: { readonly dataCsr?: string | undefined; readonly dataHost?: string | undefined }, node: string, now: number): { dataCertificate: string; dataCa: string } | undefined {
    if ((request.dataCsr === undefined) !== (request.dataHost === undefined)) {
      throw new AtollError('invalid_request', 'dataCsr and dataHost: send both (a data server certificate for the host peers dial) or neither');
    }
    if (request.dataCsr === undefined) return undefined;
    const issued = signDataServerCsr(this.dataCa, request.dataCsr, node, request.dataHost!, this.options.certLifetimeMs, now);
    return { dataCertificate: issued.certPem, dataCa: this.dataCa.certPem };
  }

  /**
   * The node a TLS connection speaks for, from its verified client certificate: signed by the
   * cluster CA, unexpired, for client auth, naming a node that joined and is not revoked, and
   * issued since that node last joined (a certificate from before a rejoin is spent).
   */
  async nodeFromCertificate(socket: TLSSocket | undefined): Promise<string> {
    if (socket === undefined || typeof socket.getPeerCertificate !== 'function') {
      throw new AtollError('unauthorized', 'this endpoint needs a node client certificate over TLS');
    }
    const peer = socket.getPeerCertificate();
    if (!peer || Object.keys(peer).length === 0) throw new AtollError('unauthorized', 'no client certificate: agents connect with the node certificate they got on join');
    if (!socket.authorized) throw new AtollError('unauthorized', `client certificate refused: ${String(socket.authorizationError)}`);
    const cert = new X509Certificate(peer.raw);
    const node = peer.subject?.CN;
    const usages = cert.keyUsage ?? [];
    if (typeof node !== 'string' || !NAME_PATTERN.test(node) || !usages.includes(CLIENT_AUTH_OID)) {
      throw new AtollError('unauthorized', 'the client certificate is not a node certificate');
    }
    const identity = this.identities.get(node);
    if (!identity) throw new AtollError('unauthorized', `node ${node} has no identity here; join again with a join token`);
    if (identity.revokedAt !== null) {
      await this.plane.noteIdentity('node.identity_refused', node, { reason: 'revoked', serial: cert.serialNumber.toLowerCase() });
      throw new AtollError('forbidden', `node ${node} was revoked at ${iso(identity.revokedAt)}`);
    }
    if (Date.parse(cert.validFrom) + CLOCK_SLACK_MS < identity.joinedAt - 1000) {
      throw new AtollError('unauthorized', `this certificate for ${node} predates its latest join; use the one that join issued`);
    }
    return node;
  }

  /** Checks a node that authenticated with a bearer credential (--insecure) is not revoked. */
  checkNotRevoked(node: string): void {
    const revokedAt = this.identities.get(node)?.revokedAt;
    if (revokedAt != null) throw new AtollError('forbidden', `node ${node} was revoked at ${iso(revokedAt)}`);
  }

  /** Why the node may not claim these labels under the token it joined with, or undefined. */
  claimProblem(node: string, labels: Readonly<Record<string, string>>): string | undefined {
    const identity = this.identities.get(node);
    if (!identity || identity.labels === null) return undefined;
    const scope = { pool: identity.pool, labels: identity.labels };
    const problem = claimProblem(scope, labels);
    return problem && `node ${node} joined with join token ${identity.tokenId} (${describeScope(scope)}): ${problem}`;
  }

  async noteRefusal(node: string, reason: string): Promise<void> {
    await this.plane.noteIdentity('node.identity_refused', node, { reason });
  }

  // ---- admin ----

  async createJoinToken(input: { pool?: string; labels?: Readonly<Record<string, string>>; expiresInMs?: number; singleUse?: boolean }): Promise<{ token: string } & JoinTokenView> {
    const now = this.options.clock.now();
    const { secret, hash } = newJoinSecret(this.ca.fingerprint);
    const record: JoinTokenRecord = {
      id: `join-${randomSuffix(10)}`, hash, pool: input.pool ?? null, labels: input.labels ?? {},
      expiresAt: input.expiresInMs === undefined ? null : now + input.expiresInMs, singleUse: input.singleUse ?? false,
      usedAt: null, usedBy: null, createdAt: now, revokedAt: null,
    };
    await this.ids.addJoinToken(record);
    const view = viewOf(record);
    await this.plane.noteIdentity('join_token.created', null, { ...view });
    return { token: secret, ...view };
  }

  async listJoinTokens(): Promise<JoinTokenView[]> {
    return (await this.ids.listJoinTokens()).map(viewOf);
  }

  async revokeJoinToken(id: string): Promise<JoinTokenView> {
    const record = await this.ids.revokeJoinToken(id, this.options.clock.now());
    if (!record) throw new AtollError('not_found', `join token ${id} not found; \`atoll join-token list\` shows the ids`);
    await this.plane.noteIdentity('join_token.revoked', null, { id });
    return viewOf(record);
  }

  listIdentities(): NodeIdentityRecord[] {
    return [...this.identities.values()];
  }

  /** Revokes the node: its certificate and credential stop working and its connection is closed. */
  async revokeNode(node: string): Promise<NodeIdentityRecord> {
    const identity = this.identities.get(node);
    if (!identity) throw new AtollError('not_found', `node ${node} has never joined; \`atoll nodes\` lists the nodes`);
    const now = this.options.clock.now();
    const revoked = { ...identity, revokedAt: identity.revokedAt ?? now };
    await this.putIdentity(revoked);
    await this.store.write({ revokeNodeTokens: [{ node, at: now }] });
    await this.plane.noteIdentity('node.revoked', node, { serial: identity.serial, tokenId: identity.tokenId });
    for (const listener of this.revokedListeners) listener(node);
    this.options.log.warn({ node }, 'node revoked; its connection is closed');
    return revoked;
  }

  private async putIdentity(identity: NodeIdentityRecord): Promise<void> {
    await this.ids.putIdentity(identity);
    this.identities.set(identity.node, identity);
  }

  /** The cluster's bootstrap join token (unscoped) or a scoped one. */
  private async findJoinToken(secret: string): Promise<JoinTokenRecord | undefined> {
    const hash = hashSecret(secret);
    const bootstrap = await this.store.findToken(hash);
    if (bootstrap?.kind === 'join') {
      return { id: bootstrap.id, hash, pool: null, labels: {}, expiresAt: null, singleUse: false, usedAt: null, usedBy: null, createdAt: bootstrap.createdAt, revokedAt: bootstrap.revokedAt };
    }
    return this.ids.findJoinToken(hash);
  }

  private async refuseJoin(node: string | null, code: 'unauthorized' | 'forbidden', message: string, tokenId?: string): Promise<AtollError> {
    await this.plane.noteIdentity('node.join_refused', null, { claimedNode: node, reason: message, ...(tokenId ? { tokenId } : {}) });
    return new AtollError(code, message);
  }
}

function viewOf(record: JoinTokenRecord): JoinTokenView {
  const { hash: _hash, ...view } = record;
  return view;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
