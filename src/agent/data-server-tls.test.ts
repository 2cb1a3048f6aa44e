import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCsr, newKeyPair } from '../protocol/certificate-request.js';
import { generateDataSigningKeys, signDataToken } from '../protocol/data-token.js';
import { loadOrCreateCa, signDataServerCsr, type CertificateAuthority } from '../server/tls/certificate-authority.js';
import { DataServer } from './data-server.js';
import { PartitionAccess } from './partition-access.js';
import { PartitionStore } from './partition-store.js';

// The data server over HTTPS with a data server certificate from a real cluster CA.

const signing = generateDataSigningKeys();
const CONTENT = 'temperature,21.5\n'.repeat(10);

let ca: CertificateAuthority;
let store: PartitionStore;
let server: DataServer;
let port: number;

const dataCert = (host: string) => {
  const keys = newKeyPair();
  return { cert: signDataServerCsr(ca, createCsr('edge-berlin', keys), 'edge-berlin', host, 3_600_000).certPem, key: keys.privateKeyPem };
};

beforeEach(async () => {
  ca = await loadOrCreateCa(mkdtempSync(join(tmpdir(), 'atoll-ca-')));
  store = await PartitionStore.open(mkdtempSync(join(tmpdir(), 'atoll-data-')));
  await store.put({ namespace: 'default', dataset: 'readings', partition: 'berlin' }, Readable.from([CONTENT]), { maxBytes: 1e6, residencyClass: 'eu-personal' });
  server = new DataServer({
    access: new PartitionAccess({
      store, nodeName: 'edge-berlin', maxUploadBytes: 4096,
      publicKey: () => signing.publicKey,
      residency: (c) => (c === 'eu-personal' ? { jurisdictions: new Set(['DE', 'FR']), policy: 'gdpr' } : undefined),
      onStored: () => undefined,
      onRefused: () => undefined,
    }),
    onInternalError: (error) => {
      throw error;
    },
    tls: dataCert('127.0.0.1'),
  });
  ({ port } = await server.listen('127.0.0.1', 0));
});

afterEach(async () => {
  await server.close();
  await store.close();
});

const token = () => signDataToken({ op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin', for: 'peer', forJurisdiction: 'FR', exp: Date.now() + 60_000 }, signing.privateKey);

function fetchOver(caPem: string, host = '127.0.0.1'): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/v1/data/default/readings/berlin', ca: caPem, servername: host === '127.0.0.1' ? undefined : host, headers: { authorization: `Bearer ${token()}` }, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber ?? '';
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
    });
    req.on('error', reject);
  });
}

describe('data server over TLS', () => {
  it('serves a partition over HTTPS to a reader trusting the cluster CA, with the token check as over HTTP', async () => {
    expect(server.secure).toBe(true);
    const got = await fetchOver(ca.certPem);
    expect(got.status).toBe(200);
    expect(got.body).toBe(CONTENT);
  });

  it('is refused by a reader trusting another CA', async () => {
    const other = await loadOrCreateCa(mkdtempSync(join(tmpdir(), 'atoll-ca-')));
    await expect(fetchOver(other.certPem)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('swaps its certificate on renewal: new connections see the new one', async () => {
    const before = (await fetchOver(ca.certPem)).serial;
    const renewed = dataCert('127.0.0.1');
    server.setCertificate(renewed);
    const after = (await fetchOver(ca.certPem)).serial;
    expect(after).not.toBe(before);
    expect(after).toBe(new X509Certificate(renewed.cert).serialNumber);
  });
});
