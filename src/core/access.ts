// Who may do what, as the API, the CLI and the dashboard see it: roles, API tokens (never their
// secrets) and the audit log's entries. The rules themselves live in server/auth/access.ts.

export const ROLES = ['viewer', 'operator', 'admin'] as const;
/** What an API token may do: viewers read, operators also run work and move data, admins also run the cluster. */
export type Role = typeof ROLES[number];

/** An API token as the API shows it: never its secret or the secret's hash. */
export interface TokenView {
  readonly id: string;
  readonly name: string | null;
  readonly role: Role | null;
  /** null: every namespace, and the cluster itself. */
  readonly namespaces: readonly string[] | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  /** When it stops working on its own; null: never. */
  readonly expiresAt: number | null;
}

/** A join token as the API shows it: its scope and use, never its secret or the secret's hash. */
export interface JoinTokenView {
  readonly id: string;
  /** The pool the node must be in (its `pool` label); null: any. */
  readonly pool: string | null;
  /** Labels the node may claim, besides `pool`; empty with no pool and no labels: unscoped. */
  readonly labels: Readonly<Record<string, string>>;
  readonly expiresAt: number | null;
  readonly singleUse: boolean;
  readonly usedAt: number | null;
  readonly usedBy: string | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

/** The identity a node joined with, as the API shows it (and as the store keeps it). */
export interface NodeIdentityView {
  readonly node: string;
  /** The join token the node joined with (a token id; the bootstrap token's id for unscoped joins). */
  readonly tokenId: string;
  readonly pool: string | null;
  /** Labels the node may claim; null: any. */
  readonly labels: Readonly<Record<string, string>> | null;
  /** Serial (hex) of the latest certificate issued to the node; null for --insecure bearer credentials. */
  readonly serial: string | null;
  readonly notAfter: number | null;
  readonly joinedAt: number;
  readonly revokedAt: number | null;
}

/** One line of the audit log: who did or tried what to which object, and how it ended. */
export interface AuditRecord {
  readonly seq: number;
  readonly time: number;
  /** A token id, a node name, or `anonymous`. */
  readonly actor: string;
  readonly actorKind: 'token' | 'node' | 'anonymous';
  readonly role: Role | null;
  /** `METHOD /route/:pattern` for API requests, a dotted name (`agent.hello`) for agent messages. */
  readonly action: string;
  readonly target: string | null;
  readonly namespace: string | null;
  /** `ok`; `denied` (401/403: who you are or what you may do); `refused` (other 4xx); `failed` (5xx). */
  readonly outcome: 'ok' | 'denied' | 'refused' | 'failed';
  readonly status: number;
  readonly reason: string | null;
  readonly remote: string | null;
}

