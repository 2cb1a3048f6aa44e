import type { KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AtollError } from '../core/errors.js';
import { verifyDataToken, type DataTokenClaims } from '../protocol/data-token.js';
import type { PartitionRef, PartitionStore, StoredPartition } from './partition-store.js';

// Who may read or write a partition held here, decided on this node whichever way the request
// came (the agent's own HTTP data server, or relayed through the control-plane connection): the
// control plane's signed token must name this node, the partition and the operation, and a read
// must come from a jurisdiction the partition's residency class allows (defence in depth: a
// valid token for a reader outside the class is still refused).

export interface ResidencyRule {
  readonly jurisdictions: ReadonlySet<string>;
  readonly policy: string | null;
}

export type DataOp = DataTokenClaims['op'];

export interface Refusal {
  readonly ref: PartitionRef;
  readonly for: string;
  readonly forJurisdiction: string | null;
  readonly reason: string;
  readonly policy: string | null;
}

export interface PartitionAccessOptions {
  readonly store: PartitionStore;
  readonly nodeName: string;
  /** Known once the control plane's welcome arrived; until then every request is `unavailable`. */
  readonly publicKey: () => KeyObject | undefined;
  /** Where a class's data may be read; undefined: the class is unknown here (refused). */
  readonly residency: (residencyClass: string) => ResidencyRule | undefined;
  readonly maxUploadBytes: number;
  readonly now?: () => number;
  readonly onStored: (ref: PartitionRef, entry: StoredPartition) => void;
  readonly onRefused: (refusal: Refusal) => void;
}

export class PartitionAccess {
  constructor(private readonly options: PartitionAccessOptions) {}

  /** The token's claims if `authorization` carries one for `op` on `ref` at this node; throws the refusal otherwise. */
  authorize(authorization: string | undefined, ref: PartitionRef, op: DataOp): DataTokenClaims {
    const key = this.options.publicKey();
    if (key === undefined) throw new AtollError('unavailable', 'this agent has not reached the control plane yet; try again shortly');
    const header = authorization ?? '';
    if (!header.startsWith('Bearer ')) throw new AtollError('unauthorized', 'missing data token: send `Authorization: Bearer <token>` from the control plane');
    const claims = verifyDataToken(header.slice(7), key, (this.options.now ?? Date.now)());
    const mismatch = claims.node !== this.options.nodeName ? `node ${claims.node}` : claims.namespace !== ref.namespace || claims.dataset !== ref.dataset || claims.partition !== ref.partition ? `${claims.namespace}/${claims.dataset}/${claims.partition}` : undefined;
    if (mismatch !== undefined) throw new AtollError('forbidden', `the token is for ${mismatch}, not for this request`);
    if (claims.op !== op) throw new AtollError('forbidden', `a ${claims.op} token does not allow a ${op}`);
    return claims;
  }

  /** The stored partition a read token may have; a reader outside its residency class is refused and reported. */
  readable(ref: PartitionRef, claims: DataTokenClaims): StoredPartition {
    const entry = this.options.store.get(ref);
    if (entry === undefined) throw new AtollError('not_found', `partition ${ref.dataset}/${ref.partition} is not on this node`);
    if (claims.sha256 !== undefined && claims.sha256 !== entry.sha256) throw new AtollError('conflict', `this node holds other content for ${ref.dataset}/${ref.partition} than the token names`);
    if (entry.residencyClass !== null) {
      const rule = this.options.residency(entry.residencyClass);
      const where = claims.forJurisdiction;
      if (rule === undefined || where === null || !rule.jurisdictions.has(where)) {
        const reason = rule === undefined
          ? `residency class ${entry.residencyClass} is not known to this node`
          : `${claims.for} is in ${where ?? 'no jurisdiction'}; residency class ${entry.residencyClass} may only be read in [${[...rule.jurisdictions].sort().join(', ')}]`;
        this.options.onRefused({ ref, for: claims.for, forJurisdiction: where, reason, policy: rule?.policy ?? null });
        throw new AtollError('forbidden', reason);
      }
    }
    return entry;
  }

  /** Where a readable partition's bytes are. */
  objectPath(entry: StoredPartition): string {
    return this.options.store.objectPath(entry.sha256);
  }

  /** Stores an upload's body (of `declared` bytes, if the sender said) under a write token's class. */
  async receive(ref: PartitionRef, claims: DataTokenClaims, body: Readable, declared: number | undefined): Promise<StoredPartition> {
    const limit = this.options.maxUploadBytes;
    if (declared !== undefined && declared > limit) throw new AtollError('payload_too_large', `partition of ${declared} bytes is larger than the ${limit} this node accepts`);
    const entry = await this.options.store.put(ref, body, { maxBytes: limit, residencyClass: claims.residencyClass ?? null });
    this.options.onStored(ref, entry);
    return entry;
  }
}
