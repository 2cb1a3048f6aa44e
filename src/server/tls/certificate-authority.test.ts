import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCsr, newKeyPair } from '../../protocol/certificate-request.js';
import { certificateFingerprint } from '../../protocol/join-token.js';
import { CLIENT_AUTH_OID, DATA_CA, issueServerCertificate, loadOrCreateCa, serverNames, signDataServerCsr, signNodeCsr, SERVER_AUTH_OID } from './certificate-authority.js';

const dir = () => mkdtempSync(join(tmpdir(), 'atoll-ca-'));

describe('certificate authority', () => {
  it('is made once per data dir, with its key readable by the owner only, and loaded the same afterwards', async () => {
    const d = dir();
    const ca = await loadOrCreateCa(d);
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(statSync(join(d, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(ca.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const again = await loadOrCreateCa(d);
    expect(again.fingerprint).toBe(ca.fingerprint);
    expect(certificateFingerprint(readFileSync(join(d, 'ca.crt'), 'utf8'))).toBe(ca.fingerprint);
    expect((await loadOrCreateCa(dir())).fingerprint).not.toBe(ca.fingerprint);
  });

  it('refuses to start with half a CA', async () => {
    const d = dir();
    writeFileSync(join(d, 'ca.crt'), 'x');
    await expect(loadOrCreateCa(d)).rejects.toThrow(/ca\.key is missing/);
  });

  it('signs a server certificate for every name and address, for server auth only', async () => {
    const d = dir();
    const ca = await loadOrCreateCa(d);
    const names = serverNames('0.0.0.0', ['atoll.example.com', '10.1.2.3']);
    expect(names).not.toContain('0.0.0.0');
    const { certPem } = await issueServerCertificate(ca, d, names);
    const cert = new X509Certificate(certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('atoll.example.com')).toBe('atoll.example.com');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(cert.checkIP('10.9.9.9')).toBeUndefined();
    expect(cert.keyUsage).toEqual([SERVER_AUTH_OID]);
    expect(statSync(join(d, 'server.key')).mode & 0o777).toBe(0o600);
  });

  it('keeps the data CA apart from the cluster CA: its own files, name and key, kept across restarts', async () => {
    const d = dir();
    const cluster = await loadOrCreateCa(d);
    const data = await loadOrCreateCa(d, Date.now(), DATA_CA);
    expect(data.fingerprint).not.toBe(cluster.fingerprint);
    expect(new X509Certificate(data.certPem).subject).toMatch(/CN=atoll data CA [0-9a-f]{8}/);
    expect(readFileSync(join(d, 'data-ca.crt'), 'utf8')).toBe(data.certPem);
    expect(statSync(join(d, 'data-ca.key')).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateCa(d, Date.now(), DATA_CA)).fingerprint).toBe(data.fingerprint);
    expect((await loadOrCreateCa(d)).fingerprint).toBe(cluster.fingerprint);
  });

  it('signs a data server certificate for the given data host only, for server auth only', async () => {
    const ca = await loadOrCreateCa(dir());
    const keys = newKeyPair();
    const byIp = new X509Certificate(signDataServerCsr(ca, createCsr('other', keys), 'node-a', '10.0.0.7', 3_600_000).certPem);
    expect(byIp.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(byIp.subject).toContain('CN=node-a');
    expect(byIp.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(byIp.checkIP('127.0.0.1')).toBeUndefined();
    expect(byIp.checkHost('localhost')).toBeUndefined();
    expect(byIp.keyUsage).toEqual([SERVER_AUTH_OID]);
    expect(byIp.checkPrivateKey(createPrivateKey(keys.privateKeyPem))).toBe(true);
    const byName = new X509Certificate(signDataServerCsr(ca, createCsr('node-a', keys), 'node-a', 'node-a.example.com', 1000).certPem);
    expect(byName.checkHost('node-a.example.com')).toBe('node-a.example.com');
    expect(byName.checkHost('node-b.example.com')).toBeUndefined();
    expect(new X509Certificate(signDataServerCsr(ca, createCsr('node-a', keys), 'node-a', '[::1]', 1000).certPem).checkIP('::1')).toBe('::1');
    for (const bad of ['', '0.0.0.0', '::', 'a b', 'x/y']) {
      expect(() => signDataServerCsr(ca, createCsr('node-a', keys), 'node-a', bad, 1000)).toThrow(/data host/);
    }
  });

  it('names the node in a node certificate whatever the CSR asked for, for client auth only, for the lifetime given', async () => {
    const ca = await loadOrCreateCa(dir());
    const keys = newKeyPair();
    const now = Date.UTC(2026, 0, 1);
    const issued = signNodeCsr(ca, createCsr('node-b', keys), 'node-a', 3_600_000, now);
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subject).toContain('CN=node-a');
    expect(cert.subject).not.toContain('node-b');
    expect(cert.keyUsage).toEqual([CLIENT_AUTH_OID]);
    expect(cert.checkPrivateKey(createPrivateKey(keys.privateKeyPem))).toBe(true);
    expect(Date.parse(cert.validTo)).toBe(now + 3_600_000);
    expect(issued.notAfter).toBe(now + 3_600_000);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(signNodeCsr(ca, createCsr('node-a', keys), 'node-a', 1000, now).serial).not.toBe(issued.serial);
  });

  it.each([
    ['not PEM', 'hello'],
    ['a certificate instead of a CSR', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ])('refuses a CSR that is %s, naming the field', async (_label, csr) => {
    const ca = await loadOrCreateCa(dir());
    expect(() => signNodeCsr(ca, csr, 'node-a', 1000)).toThrow(/csr: expected a PEM certificate signing request/);
  });

  it('refuses a CSR whose signature does not match its key', async () => {
    const ca = await loadOrCreateCa(dir());
    const pem = createCsr('node-a', newKeyPair());
    // Flip one byte inside the signature (the end of the DER), keeping the PEM well formed.
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0xff;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => signNodeCsr(ca, tampered, 'node-a', 1000)).toThrow(/signature does not match/);
  });
});
