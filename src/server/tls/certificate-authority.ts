import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';
import { AtollError } from '../../core/errors.js';
import { CLOCK_SLACK_MS, newKeyPair } from '../../protocol/certificate-request.js';
import { certificateFingerprint } from '../../protocol/join-token.js';

// The cluster's own certificate authority, made on first start in the data dir. It signs the
// server's certificate (for HTTPS/WSS) and the nodes' short-lived client certificates (for mutual
// TLS). Keys come from Node's crypto (fast, native); node-forge builds and signs the X.509 and
// reads CSRs, which Node's crypto cannot.

export const CA_CERT_FILE = 'ca.crt';
const CA_KEY_FILE = 'ca.key';

/** Where a CA's files live and what its certificate is called. */
export interface CaFiles {
  readonly cert: string;
  readonly key: string;
  readonly name: string;
  /** What losing it costs, for the message when one of its two files is gone. */
  readonly remakeCost: string;
}

/** Signs the control plane's certificate and the nodes' client certificates; agents and the CLI trust it. */
export const CLUSTER_CA: CaFiles = { cert: CA_CERT_FILE, key: CA_KEY_FILE, name: 'atoll cluster CA', remakeCost: 'every node must then rejoin' };
/**
 * Signs the nodes' data server certificates only, and readers trust it only for peer transfers.
 * Kept apart so a data server certificate (which names an address the node chose) can never pass
 * for the control plane, whose clients trust the cluster CA alone.
 */
export const DATA_CA: CaFiles = { cert: 'data-ca.crt', key: 'data-ca.key', name: 'atoll data CA', remakeCost: 'nodes get new data certificates at their next renewal' };
const SERVER_CERT_FILE = 'server.crt';
const SERVER_KEY_FILE = 'server.key';
const CA_YEARS = 10;
const SERVER_CERT_DAYS = 365;
/** Client-auth and server-auth extended key usages: a node certificate can never serve as the server, nor the other way round. */
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
export const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
  /** sha256 of the CA certificate's DER, as join tokens carry it. */
  readonly fingerprint: string;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly serial: string;
  readonly notAfter: number;
}

/** The data dir's CA (the cluster's, unless `files` names another), created (key mode 0600) when absent. */
export async function loadOrCreateCa(dataDir: string, now = Date.now(), files: CaFiles = CLUSTER_CA): Promise<CertificateAuthority> {
  const certFile = join(dataDir, files.cert);
  const keyFile = join(dataDir, files.key);
  if (existsSync(certFile) !== existsSync(keyFile)) {
    throw new AtollError('invalid_request', `${existsSync(certFile) ? keyFile : certFile} is missing but its pair is present; restore it, or remove ${certFile} and ${keyFile} to make a new CA (${files.remakeCost})`);
  }
  if (existsSync(certFile)) {
    const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { certPem, keyPem, fingerprint: certificateFingerprint(certPem) };
  }
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = newSerial();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + CA_YEARS * 365 * 86_400_000);
  const subject = [{ name: 'commonName', value: `${files.name} ${randomBytes(4).toString('hex')}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  await writeFile(keyFile, keys.privateKeyPem, { mode: 0o600 });
  // Written aside and renamed: clients (and tests) read ca.crt as soon as it appears.
  await writeFile(`${certFile}.tmp`, certPem, { mode: 0o644 });
  await rename(`${certFile}.tmp`, certFile);
  return { certPem, keyPem: keys.privateKeyPem, fingerprint: certificateFingerprint(certPem) };
}

/** The names a server certificate covers: its listen host, loopback, the hostname and any extra SANs. */
export function serverNames(listenHost: string, extra: readonly string[] = []): string[] {
  const names = [listenHost, '127.0.0.1', '::1', 'localhost', hostname(), ...extra];
  // 0.0.0.0 and :: mean "every address", not a name a client dials.
  return [...new Set(names.filter((n) => n !== '' && n !== '0.0.0.0' && n !== '::'))];
}

/**
 * Signs a fresh server certificate for `names` and writes it with its key to the data dir. Made
 * at every start (it is cheap), so a changed --host or --tls-san takes effect on restart.
 */
export async function issueServerCertificate(ca: CertificateAuthority, dataDir: string, names: readonly string[], now = Date.now()): Promise<{ certPem: string; keyPem: string }> {
  const keys = newKeyPair();
  const cert = signed(ca, keys.publicKeyPem, [{ name: 'commonName', value: 'atoll control plane' }], now, SERVER_CERT_DAYS * 86_400_000, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  await writeFile(join(dataDir, SERVER_KEY_FILE), keys.privateKeyPem, { mode: 0o600 });
  await writeFile(join(dataDir, SERVER_CERT_FILE), cert.certPem, { mode: 0o644 });
  return { certPem: cert.certPem, keyPem: keys.privateKeyPem };
}

/**
 * Signs a node's certificate signing request. The subject is set here to the node's name, whatever
 * the CSR asked for, so a node can never obtain a certificate naming another node.
 */
export function signNodeCsr(ca: CertificateAuthority, csrPem: string, node: string, lifetimeMs: number, now = Date.now()): IssuedCertificate {
  return signed(ca, csrPublicKey(csrPem), [{ name: 'commonName', value: node }, { name: 'organizationalUnitName', value: 'atoll node' }], now, lifetimeMs, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
}

/**
 * Signs the SERVER certificate for a node's data server (agent-to-agent partition transfers), with
 * the data CA. The subject is the node's name, whatever the CSR asked for, and the only
 * subjectAltName is `dataHost`, the address the node says peers dial. A node may name any address,
 * so readers check both: the host they dialled and that the certificate names the holder they
 * expect. Such a certificate proves "node N serves here", never "the control plane" (other CA)
 * nor another node (other name). Server auth only: never a client identity.
 */
export function signDataServerCsr(ca: CertificateAuthority, csrPem: string, node: string, dataHost: string, lifetimeMs: number, now = Date.now()): IssuedCertificate {
  const host = dataHost.startsWith('[') && dataHost.endsWith(']') ? dataHost.slice(1, -1) : dataHost;
  if (host === '' || host === '0.0.0.0' || host === '::' || /[\s/]/.test(host)) {
    throw new AtollError('invalid_request', `data host: expected the IP or DNS name peers dial (from --data-url or --data-listen), got ${JSON.stringify(dataHost)}`);
  }
  return signed(ca, csrPublicKey(csrPem), [{ name: 'commonName', value: node }, { name: 'organizationalUnitName', value: 'atoll data server' }], now, lifetimeMs, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }] },
  ]);
}

/** The public key of a CSR whose signature checks out, as PEM. */
function csrPublicKey(csrPem: string): string {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (error) {
    throw new AtollError('invalid_request', `csr: expected a PEM certificate signing request (RSA), got one that does not parse: ${error instanceof Error ? error.message : String(error)}`);
  }
  let verified: boolean;
  try {
    verified = csr.verify();
  } catch {
    // node-forge throws on a signature it cannot even decode: that is a mismatch too.
    verified = false;
  }
  if (!verified) throw new AtollError('invalid_request', 'csr: its signature does not match its public key');
  if (!csr.publicKey) throw new AtollError('invalid_request', 'csr: it carries no public key');
  return forge.pki.publicKeyToPem(csr.publicKey);
}

function signed(ca: CertificateAuthority, publicKeyPem: string, subject: forge.pki.CertificateField[], now: number, lifetimeMs: number, extensions: object[]): IssuedCertificate {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = newSerial();
  cert.validity.notBefore = new Date(now - CLOCK_SLACK_MS);
  cert.validity.notAfter = new Date(now + lifetimeMs);
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([...extensions, { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() }]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), serial: cert.serialNumber, notAfter: cert.validity.notAfter.getTime() };
}

/** 16 random bytes with the top bit clear: a positive serial, unique in practice. */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

