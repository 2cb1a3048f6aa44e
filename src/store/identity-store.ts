import type { JoinTokenView } from '../core/access.js';

// Join tokens with a scope and the identity each node joined with (see src/server/tls/README.md).

/** A join token as stored: what the API shows, and the sha256 of its secret. */
export interface JoinTokenRecord extends JoinTokenView {
  readonly hash: string;
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
