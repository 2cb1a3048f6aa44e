import { describe, expect, it } from 'vitest';
import { exportPrivateKey, exportPublicKey, generateDataSigningKeys, importPrivateKey, importPublicKey, signDataToken, verifyDataToken, type DataTokenClaims } from './data-token.js';

const NOW = 1_700_000_000_000;
const claims: DataTokenClaims = {
  op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin', for: 'aws-eu-central-1',
  forJurisdiction: 'DE', sha256: 'a'.repeat(64), exp: NOW + 60_000,
};

describe('data tokens', () => {
  const keys = generateDataSigningKeys();

  it('round-trips claims signed by the control plane, through exported keys', () => {
    const token = signDataToken(claims, importPrivateKey(exportPrivateKey(keys)).privateKey);
    expect(verifyDataToken(token, importPublicKey(exportPublicKey(keys.publicKey)), NOW)).toEqual(claims);
  });

  it.each<{ name: string; token: () => string; message: RegExp }>([
    { name: 'an expired token', token: () => signDataToken({ ...claims, exp: NOW - 5 }, keys.privateKey), message: /expired 5 ms ago/ },
    { name: 'a token signed by another key', token: () => signDataToken(claims, generateDataSigningKeys().privateKey), message: /signature the control plane did not make/ },
    {
      name: 'claims changed after signing',
      token: () => {
        const [, signature] = signDataToken(claims, keys.privateKey).split('.');
        return `${Buffer.from(JSON.stringify({ ...claims, forJurisdiction: 'US' })).toString('base64url')}.${signature}`;
      },
      message: /signature the control plane did not make/,
    },
    { name: 'garbage', token: () => 'not-a-token', message: /not of the form claims.signature/ },
    { name: 'a huge token', token: () => 'x'.repeat(5000), message: /longer than 4096/ },
  ])('refuses $name', ({ token, message }) => {
    expect(() => verifyDataToken(token(), keys.publicKey, NOW)).toThrow(message);
    try {
      verifyDataToken(token(), keys.publicKey, NOW);
    } catch (error) {
      expect(error).toMatchObject({ code: 'unauthorized' });
    }
  });
});
