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
    await s.write({ tokens: [session.record, forever.record] });
    const auth = new Authenticator(s, () => now);
    expect((await auth.authenticate(`Bearer ${session.secret}`, ['api'])).id).toBe(session.record.id);
    now += 59_999;
    expect((await auth.authenticate(`Bearer ${session.secret}`, ['api'])).id).toBe(session.record.id);
    now += 1;
    await expect(auth.authenticate(`Bearer ${session.secret}`, ['api'])).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringContaining('expired at 1970-01-01T00:17:40.000Z') });
    // A token without an expiry never expires.
    now += 10 * 365 * 86_400_000;
    expect((await auth.authenticate(`Bearer ${forever.secret}`, ['api'])).id).toBe(forever.record.id);
  });
});
