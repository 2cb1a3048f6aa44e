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
import { DATA_CA, loadOrCreateCa, signDataServerCsr, type CertificateAuthority } from '../server/tls/certificate-authority.js';
import { DataServer } from './data-server.js';
import { nodeHttpGet } from './node-http-get.js';
import { PartitionAccess } from './partition-access.js';
import { PartitionStore } from './partition-store.js';

// The data server over HTTPS with a data server certificate from a real data CA (made as the server makes it).

const signing = generateDataSigningKeys();
const CONTENT = 'temperature,21.5\n'.repeat(10);

let ca: CertificateAuthority;
let caDir: string;
let store: PartitionStore;
let server: DataServer;
let port: number;

const dataCert = (host: string) => {
  const keys = newKeyPair();
  return { cert: signDataServerCsr(ca, createCsr('edge-berlin', keys), 'edge-berlin', host, 3_600_000).certPem, key: keys.privateKeyPem };
};

beforeEach(async () => {
  caDir = mkdtempSync(join(tmpdir(), 'atoll-ca-'));
  ca = await loadOrCreateCa(caDir, Date.now(), DATA_CA);
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
  it('serves a partition over HTTPS to a reader trusting the data CA, with the token check as over HTTP', async () => {
    expect(server.secure).toBe(true);
    const got = await fetchOver(ca.certPem);
    expect(got.status).toBe(200);
    expect(got.body).toBe(CONTENT);
  });

  it('is refused by a reader trusting the cluster CA (as every client of the control plane does): a data certificate never passes for the control plane', async () => {
    const cluster = await loadOrCreateCa(caDir);
    expect(cluster.fingerprint).not.toBe(ca.fingerprint);
    await expect(fetchOver(cluster.certPem)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('is fetched by a reader expecting this holder, refused by one expecting another node at the same address', async () => {
    const url = new URL(`https://127.0.0.1:${port}/v1/data/default/readings/berlin`);
    const headers = { authorization: `Bearer ${token()}` };
    const signal = new AbortController().signal;
    const right = await nodeHttpGet(url, headers, signal, { ca: ca.certPem, node: 'edge-berlin' });
    expect(right.status).toBe(200);
    expect(await right.readText(1e6)).toBe(CONTENT);
    // Same CA, same host: only the name in the certificate tells edge-berlin from edge-munich.
    await expect(nodeHttpGet(url, headers, signal, { ca: ca.certPem, node: 'edge-munich' })).rejects.toThrow(/is node "edge-berlin", not edge-munich/);
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
