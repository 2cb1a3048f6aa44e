import { connect, createServer, type Server, type Socket } from 'node:net';

// A TCP proxy for fault injection between an agent and the control plane (DESIGN.md, "Testing
// on this machine"). Each proxy forwards one listening port on 127.0.0.1 to one target, and can:
//   delay(ms)    hold every chunk for ms before forwarding it, in both directions;
//   blackhole()  a partition: nothing gets through in either direction, connections stay open
//                and new ones are accepted but go nowhere; a close on one side is not seen by
//                the other. Held bytes are delivered on heal if both ends are still open, as TCP
//                would after retransmitting, so a short partition loses nothing;
//   drop()       reset every connection and refuse new ones (a crashed middlebox, a reboot);
//   heal()       back to plain forwarding.

export type FaultMode = 'pass' | 'blackhole' | 'drop';

/** One client connection and its upstream, with what a partition held back in each direction. */
class Pipe {
  readonly held: { toUpstream: Buffer[]; toClient: Buffer[] } = { toUpstream: [], toClient: [] };
  /** A side that closed while partitioned: the other side learns of it on heal. */
  readonly closedDuringPartition = new Set<'client' | 'upstream'>();
  upstream: Socket | undefined;

  constructor(
    readonly client: Socket,
    private readonly proxy: FaultProxy,
  ) {}

  connectUpstream(host: string, port: number): void {
    const upstream = connect({ host, port });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('data', (chunk: Buffer) => this.forward(chunk, 'toClient'));
    upstream.on('error', () => this.closeSide('upstream'));
    upstream.on('close', () => this.closeSide('upstream'));
    // Bytes the client sent before the upstream was dialled (during a partition) go first.
    for (const chunk of this.held.toUpstream.splice(0)) upstream.write(chunk);
  }

  forward(chunk: Buffer, direction: 'toUpstream' | 'toClient'): void {
    if (this.proxy.mode === 'blackhole') {
      this.held[direction].push(chunk);
      return;
    }
    const deliver = () => {
      const target = direction === 'toClient' ? this.client : this.upstream;
      if (target === undefined) this.held[direction].push(chunk);
      else if (!target.destroyed) target.write(chunk);
    };
    if (this.proxy.delayMs > 0) setTimeout(deliver, this.proxy.delayMs).unref();
    else deliver();
  }

  closeSide(side: 'client' | 'upstream'): void {
    if (this.proxy.mode === 'blackhole') {
      this.closedDuringPartition.add(side);
      return;
    }
    this.destroy();
  }

  /** After a partition: deliver what was held, then the closes that happened meanwhile. */
  heal(host: string, port: number): void {
    if (this.upstream === undefined && !this.client.destroyed) this.connectUpstream(host, port);
    if (this.closedDuringPartition.size > 0) {
      this.destroy();
      return;
    }
    for (const chunk of this.held.toUpstream.splice(0)) this.upstream?.write(chunk);
    for (const chunk of this.held.toClient.splice(0)) this.client.write(chunk);
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

export class FaultProxy {
  mode: FaultMode = 'pass';
  delayMs = 0;
  private readonly pipes = new Set<Pipe>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to `target`. */
  /** `target.scheme` is the one the proxied server speaks (TLS passes through the proxy untouched). */
  static async start(target: { host?: string; port: number; scheme?: 'http' | 'https' }): Promise<FaultProxy> {
    const host = target.host ?? '127.0.0.1';
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => proxy!.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    proxy = new FaultProxy(server, port, { host, port: target.port });
    proxy.scheme = target.scheme ?? 'https';
    return proxy;
  }

  private scheme: 'http' | 'https' = 'https';

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  /** Connections open through the proxy right now. */
  get connections(): number {
    return this.pipes.size;
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  blackhole(): void {
    this.mode = 'blackhole';
  }

  drop(): void {
    this.mode = 'drop';
    for (const pipe of [...this.pipes]) pipe.destroy();
  }

  heal(): void {
    const wasPartitioned = this.mode === 'blackhole';
    this.mode = 'pass';
    this.delayMs = 0;
    if (wasPartitioned) for (const pipe of [...this.pipes]) pipe.heal(this.target.host, this.target.port);
  }

  forget(pipe: Pipe): void {
    this.pipes.delete(pipe);
  }

  async close(): Promise<void> {
    for (const pipe of [...this.pipes]) pipe.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'drop') {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const pipe = new Pipe(client, this);
    this.pipes.add(pipe);
    client.on('data', (chunk: Buffer) => pipe.forward(chunk, 'toUpstream'));
    client.on('error', () => pipe.closeSide('client'));
    client.on('close', () => pipe.closeSide('client'));
    // During a partition the SYN is answered (by the proxy) but nothing reaches the target yet.
    if (this.mode !== 'blackhole') pipe.connectUpstream(this.target.host, this.target.port);
  }
}
