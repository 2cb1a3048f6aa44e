import { AtollError } from '../../core/errors.js';
import type { Store, TokenKind, TokenRecord } from '../../store/store.js';
import { bearerSecret, hashSecret, isExpired, isLive } from './tokens.js';

/**
 * Resolves bearer secrets to token records. Known tokens are cached (they change rarely);
 * misses are not, so a flood of random secrets cannot grow memory.
 */
export class Authenticator {
  private readonly cache = new Map<string, TokenRecord>();
  /** Sessions' parent tokens by id. */
  private readonly parents = new Map<string, TokenRecord>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token behind an Authorization header if it is live and of one of the kinds accepted. */
  async authenticate(header: string | undefined, accepted: readonly TokenKind[]): Promise<TokenRecord> {
    const secret = bearerSecret(header);
    if (!secret) {
      throw new AtollError('unauthorized', 'missing credentials: send `Authorization: Bearer <token>` (the admin token is in <data-dir>/admin.token)');
    }
    const hash = hashSecret(secret);
    let token = this.cache.get(hash);
    if (token === undefined) {
      token = await this.store.findToken(hash);
      if (token) this.cache.set(hash, token);
    }
    if (!token || token.revokedAt !== null || !accepted.includes(token.kind)) {
      throw new AtollError('unauthorized', 'invalid or revoked token for this endpoint');
    }
    if (isExpired(token, this.now())) {
      throw new AtollError('unauthorized', `this token expired at ${new Date(token.expiresAt!).toISOString()}; sign in again`);
    }
    // A sign-in session lives only as long as the token that made it: revoking or rotating that
    // one (as after a leak) ends its sessions too.
    if (token.parentId !== null) {
      const parent = await this.byId(token.parentId);
      if (parent === undefined || !isLive(parent, this.now())) {
        throw new AtollError('unauthorized', 'the token this session was signed in with is revoked or expired; sign in again');
      }
    }
    return token;
  }

  private async byId(id: string): Promise<TokenRecord | undefined> {
    let token = this.parents.get(id);
    if (token === undefined) {
      token = await this.store.getToken(id);
      if (token) this.parents.set(id, token);
    }
    return token;
  }

  /** Forget cached lookups after tokens are added or revoked. */
  invalidate(): void {
    this.cache.clear();
    this.parents.clear();
  }
}
