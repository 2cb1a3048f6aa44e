import { describe, expect, it } from 'vitest';
import { formatJoinToken, parseJoinToken } from './join-token.js';

const FP = 'a1'.repeat(32);

describe('join tokens', () => {
  it('carry the CA fingerprint and the secret, and parse back to both', () => {
    const token = formatJoinToken(FP, 'c2VjcmV0LXNlY3JldC1zZWNyZXQ');
    expect(token).toBe(`atoll_join_${FP}.c2VjcmV0LXNlY3JldC1zZWNyZXQ`);
    expect(parseJoinToken(`${token}\n`)).toEqual({ caFingerprint: FP, secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ' });
  });

  it.each([
    ['the old format without a fingerprint', 'atoll_join_c2VjcmV0LXNlY3JldC1zZWNyZXQ'],
    ['a short fingerprint', `atoll_join_${'a1'.repeat(31)}.c2VjcmV0LXNlY3JldC1zZWNyZXQ`],
    ['upper-case hex', `atoll_join_${'A1'.repeat(32)}.c2VjcmV0LXNlY3JldC1zZWNyZXQ`],
    ['a short secret', `atoll_join_${FP}.abc`],
    ['an admin token', 'atoll_admin_c2VjcmV0LXNlY3JldC1zZWNyZXQ'],
    ['an empty string', ''],
  ])('refuse %s, saying what was expected without echoing the whole secret', (_label, token) => {
    let message = '';
    try {
      parseJoinToken(token);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/join token: expected atoll_join_<64 hex CA fingerprint>\.<secret>/);
    if (token.length > 16) expect(message).not.toContain(token);
  });
});
