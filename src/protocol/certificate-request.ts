import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** Certificates start this long before they are issued, for clocks that differ a little between server and node. */
export const CLOCK_SLACK_MS = 60_000;

// Key pairs and certificate signing requests, shared by the agent (which makes its own key and
// asks for a certificate) and the server's CA (which makes its own keys the same way).

/** An RSA key pair as PEM (PKCS#8 private key). */
export function newKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A CSR for `node`, signed with the given private key (what an agent sends to join or renew). */
export function createCsr(node: string, keys: { publicKeyPem: string; privateKeyPem: string }): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: node }]);
  csr.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

