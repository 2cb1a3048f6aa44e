import { randomBytes } from 'node:crypto';
import { hashSecret } from './tokens.js';

// One-time sign-in links for the dashboard. A token holder (the CLI, `atoll up`) asks for a link;
// its code goes in the URL's fragment, which browsers never send to a server nor keep in logs.
// The dashboard trades the code, once, for a session token of its own that expires, so no lasting
// secret ever travels in a URL. Codes live in memory for minutes: a restart simply voids them.

/** How long a link may wait to be opened. */
export const SIGN_IN_LINK_MS = 10 * 60_000;
/** The most links waiting at once; the oldest goes first, so a flood of asks cannot grow memory. */
const MAX_WAITING = 1000;

interface Waiting {
  readonly tokenId: string;
  readonly expiresAt: number;
}

export class SignInLinks {
  /** By the code's sha256, in creation order. */
  private readonly waiting = new Map<string, Waiting>();

  create(tokenId: string, now: number): { code: string; expiresAt: number } {
    this.forgetExpired(now);
    if (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value!);
    const code = randomBytes(24).toString('base64url');
    const expiresAt = now + SIGN_IN_LINK_MS;
    this.waiting.set(hashSecret(code), { tokenId, expiresAt });
    return { code, expiresAt };
  }

  /** The id of the token that made the link, once; undefined for an unknown, used or expired code. */
  redeem(code: string, now: number): string | undefined {
    const key = hashSecret(code);
    const found = this.waiting.get(key);
    this.waiting.delete(key);
    return found !== undefined && now < found.expiresAt ? found.tokenId : undefined;
  }

  private forgetExpired(now: number): void {
    for (const [key, waiting] of this.waiting) if (waiting.expiresAt <= now) this.waiting.delete(key);
  }
}
