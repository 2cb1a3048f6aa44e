import { checkServerIdentity, type PeerCertificate } from 'node:tls';

// Who may answer at a holder's data server. Data server certificates come from the data CA for
// whatever address a node names (see src/server/tls/certificate-authority.ts), so the host name
// alone proves only "some node serves here": a reader also checks the certificate names the
// holder it was sent to. Used by agents fetching inputs and by `atoll data put` (it lives in
// client/ beside tls-fetch.ts because both dial nodes).

/** TLS options for a request to `node`'s data server: trust the data CA alone, and check the name. */
export function holderTls(dataCa: string, node: string): { ca: string; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } {
  return {
    ca: dataCa,
    checkServerIdentity: (host, cert) => checkServerIdentity(host, cert)
      ?? (cert.subject?.CN === node ? undefined : new Error(`the data server at ${host} is node ${JSON.stringify(cert.subject?.CN ?? null)}, not ${node}, the node the control plane named`)),
  };
}
