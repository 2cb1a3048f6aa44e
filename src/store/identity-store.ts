// Join tokens with a scope and the identity each node joined with (see src/server/tls/README.md).

export interface JoinTokenRecord {
  readonly id: string;
  readonly hash: string;
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

export interface NodeIdentityRecord {
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

export interface IdentityStore {
  addJoinToken(token: JoinTokenRecord): Promise<void>;
  findJoinToken(hash: string): Promise<JoinTokenRecord | undefined>;
  listJoinTokens(): Promise<readonly JoinTokenRecord[]>;
  /** Marks a single-use token used; false when it already was (another join won the race). */
  useJoinToken(id: string, node: string, at: number): Promise<boolean>;
  revokeJoinToken(id: string, at: number): Promise<JoinTokenRecord | undefined>;
  putIdentity(identity: NodeIdentityRecord): Promise<void>;
  getIdentity(node: string): Promise<NodeIdentityRecord | undefined>;
  listIdentities(): Promise<readonly NodeIdentityRecord[]>;
}
