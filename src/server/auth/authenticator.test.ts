import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { Store } from '../../store/store.js';
import { Authenticator } from './authenticator.js';
import { newToken } from './tokens.js';

describe('authenticator', () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it('accepts a token until it expires, then refuses it saying when it expired, even when cached', async () => {
    const s = openSqliteStore(':memory:');
    store = s;
    await s.migrate();
    let now = 1_000_000;
    const session = newToken('api', now, { role: 'viewer', name: 'dashboard-session', expiresAt: now + 60_000 });
    const forever = newToken('api', now, { role: 'admin', name: 'ops' });
    const other = newToken('api', now, { role: 'admin', name: 'ops2' });
    await s.write({ tokens: [session.record, forever.record, other.record] });
    const auth = new Authenticator(s, () => now);
    expect((await auth.authenticate(`Bearer ${session.secret}`, ['api'])).id).toBe(session.record.id);
    now += 59_999;
    expect((await auth.authenticate(`Bearer ${session.secret}`, ['api'])).id).toBe(session.record.id);
    now += 1;
    await expect(auth.authenticate(`Bearer ${session.secret}`, ['api'])).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringContaining('expired at 1970-01-01T00:17:40.000Z') });
    // A session works only while the token that made it does.
    const child = newToken('api', now, { role: 'viewer', name: 'dashboard-session', expiresAt: now + 3_600_000, parentId: forever.record.id });
    await s.write({ tokens: [child.record] });
    expect((await auth.authenticate(`Bearer ${child.secret}`, ['api'])).id).toBe(child.record.id);
    await s.write({ revokeTokens: [{ id: forever.record.id, at: now }] });
    auth.invalidate();
    await expect(auth.authenticate(`Bearer ${child.secret}`, ['api'])).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringContaining('revoked or expired') });
    // A token without an expiry never expires.
    now += 10 * 365 * 86_400_000;
    expect((await auth.authenticate(`Bearer ${other.secret}`, ['api'])).id).toBe(other.record.id);
  });
});
