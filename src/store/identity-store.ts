import type { JoinTokenView, NodeIdentityView } from '../core/access.js';

// Join tokens with a scope and the identity each node joined with (see src/server/tls/README.md).

/** A join token as stored: what the API shows, and the sha256 of its secret. */
export interface JoinTokenRecord extends JoinTokenView {
  readonly hash: string;
}

/** A node's identity as stored: exactly what the API shows. */
export type NodeIdentityRecord = NodeIdentityView;

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
