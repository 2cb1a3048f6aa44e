import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { holderTls } from '../client/holder-tls.js';
import { AtollError } from '../core/errors.js';
import { cutShort, unreachable, type BodySink, type HttpGet, type HttpGetResponse, type PeerTrust } from './http-get.js';

// GET with node:http(s) and the global agent, whose kept-alive connections make a run of small
// partitions from one holder cost one handshake. Redirects are never followed (node:http does not).

export const nodeHttpGet: HttpGet = (url, headers, signal, trust) =>
  new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { headers, signal, ...(trust === undefined ? {} : tlsOptions(trust)) }, (res) => resolve(new NodeHttpResponse(url, res)));
    // Also catches errors after the head (they reach the body's reader through the response).
    req.on('error', (error) => reject(unreachable(url, error)));
    req.end();
  });

function tlsOptions(trust: PeerTrust): RequestOptions {
  return trust.node === undefined ? { ca: trust.ca } : { ...holderTls(trust.ca, trust.node), agent: holderAgent(trust.node) };
}

/**
 * One connection pool per holder: the holder's name is checked when a connection is made, and a
 * pool shared by all (the global agent keys connections by host, port and CA, not by that check)
 * would hand a connection checked for one node to a request meant for another at the same address.
 * Idle connections close after a few seconds (the data server's keep-alive), so an idle pool is an
 * empty object; there is one per node this node has read from.
 */
const holderAgents = new Map<string, HttpsAgent>();

function holderAgent(node: string): HttpsAgent {
  let agent = holderAgents.get(node);
  if (agent === undefined) {
    agent = new HttpsAgent({ keepAlive: true });
    holderAgents.set(node, agent);
  }
  return agent;
}

class NodeHttpResponse implements HttpGetResponse {
  readonly status: number;
  readonly contentLength: number | null;
  readonly location: string | null;

  constructor(
    private readonly url: URL,
    private readonly res: IncomingMessage,
  ) {
    this.status = res.statusCode ?? 0;
    const length = res.headers['content-length'];
    this.contentLength = length !== undefined && /^\d+$/.test(length) ? Number(length) : null;
    this.location = res.headers.location ?? null;
  }

  async readBody(sink: BodySink): Promise<number> {
    let received = 0;
    try {
      for await (const chunk of this.res) {
        received += (chunk as Buffer).length;
        const full = sink.write(chunk as Buffer);
        if (full !== undefined) await full;
      }
    } catch (error) {
      // The sink's refusal (too large, a disk error) says what went wrong; anything else is the connection.
      if (error instanceof AtollError || this.res.complete) throw error;
      throw cutShort(this.url, received, this.contentLength, error);
    }
    if (!this.res.complete) throw cutShort(this.url, received, this.contentLength);
    return received;
  }

  async readText(limit: number): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.res) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= limit) break;
    }
    this.close();
    return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
  }

  close(): void {
    // A body read to its end leaves the connection to the agent for reuse; one cut off closes it.
    this.res.destroy();
  }
}
