import { readFile } from 'node:fs/promises';
import { AtollError } from '../../core/errors.js';
import { DATA_CA, issueServerCertificate, loadOrCreateCa, serverNames, type CertificateAuthority } from './certificate-authority.js';

export interface TlsOptions {
  /** Plain HTTP and WS: local development only. */
  readonly insecure?: boolean;
  /** A given server certificate and key (PEM files) instead of one from the cluster CA. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Extra names and addresses for the generated server certificate. */
  readonly sans?: readonly string[];
}

export interface ServingTls {
  readonly ca: CertificateAuthority;
  /** Signs data server certificates (see DATA_CA). */
  readonly dataCa: CertificateAuthority;
  /** Options for https.createServer; undefined when serving plain HTTP. */
  readonly https: { key: string; cert: string; ca: string[]; requestCert: true; rejectUnauthorized: false; minVersion: 'TLSv1.2' } | undefined;
}

/**
 * The CA exists even with --insecure (join tokens name it, and a later start without --insecure
 * keeps the same tokens). The server asks every client for a certificate but lets those without
 * one through: API clients authenticate with bearer tokens; the agent gateway requires a node
 * certificate and checks it itself.
 */
export async function prepareServerTls(dataDir: string, listenHost: string, options: TlsOptions): Promise<ServingTls> {
  const ca = await loadOrCreateCa(dataDir);
  const dataCa = await loadOrCreateCa(dataDir, Date.now(), DATA_CA);
  if (options.insecure) return { ca, dataCa, https: undefined };
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new AtollError('invalid_request', `--tls-cert and --tls-key: expected both or neither, got only ${options.certFile === undefined ? '--tls-key' : '--tls-cert'}`);
  }
  let key: string;
  let cert: string;
  if (options.certFile !== undefined && options.keyFile !== undefined) {
    [cert, key] = await Promise.all([readGiven(options.certFile, '--tls-cert'), readGiven(options.keyFile, '--tls-key')]);
  } else {
    ({ certPem: cert, keyPem: key } = await issueServerCertificate(ca, dataDir, serverNames(listenHost, options.sans)));
  }
  // The cluster CA is the only issuer of client certificates the handshake accepts.
  return { ca, dataCa, https: { key, cert, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' } };
}

async function readGiven(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new AtollError('invalid_request', `${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
