import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP } from 'node:net';

// Measures round trips from this node to the regions named in its `probes`: the time a TCP
// connect takes is one round trip (SYN out, SYN-ACK back), so any open TCP port in the region
// will do, with nothing to install there. Name resolution is done before the clock starts.

/** Resolves with the ms the TCP handshake took; rejects on error or once `signal` aborts. */
export type ConnectTimer = (host: string, port: number, signal: AbortSignal) => Promise<number>;

export interface RttProberOptions {
  /** `host:port` by region name, as validated by the node spec. */
  readonly probes: Readonly<Record<string, string>>;
  /** Between the starts of two rounds; the first runs at once. */
  readonly intervalMs?: number;
  /** One connect that takes longer counts as a failure. */
  readonly timeoutMs?: number;
  /** Connects per region and round; the median is kept. */
  readonly tries?: number;
  /** Rounds in a row a region may fail and still keep its last good value. */
  readonly keepRounds?: number;
  readonly connect?: ConnectTimer;
  readonly log?: { debug(details: object, message: string): void };
  /** After every round whose result differs from the previous one. */
  readonly onChange?: (rttMs: Readonly<Record<string, number>>) => void;
}

export const DEFAULT_PROBE_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 2000;

interface Measured {
  readonly ms: number;
  /** Failed rounds since it was measured. */
  misses: number;
}

export class RttProber {
  private readonly measured = new Map<string, Measured>();
  private readonly targets: readonly { region: string; host: string; port: number }[];
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private started = false;
  /** Aborted by stop(): connects in flight give up at once. */
  private halt = new AbortController();
  private snapshot: Readonly<Record<string, number>> = {};

  constructor(private readonly options: RttProberOptions) {
    this.targets = Object.entries(options.probes).map(([region, target]) => ({ region, ...splitHostPort(target) }));
  }

  /** The latest round trips in ms by region; a region without a recent measurement is absent. */
  get latest(): Readonly<Record<string, number>> {
    return this.snapshot;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.halt.signal.aborted) this.halt = new AbortController();
    this.schedule(0);
  }

  /** Stops the timer and cuts a round in flight short; nothing runs or changes once it resolves. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.halt.abort(new Error('prober stopped'));
    await this.round;
  }

  /** One round over every target; never rejects. */
  probeOnce(): Promise<void> {
    this.round ??= this.runRound().finally(() => (this.round = undefined));
    return this.round;
  }

  private schedule(delayMs: number): void {
    if (!this.started) return;
    this.timer = setTimeout(() => {
      const startedAt = performance.now();
      void this.probeOnce().then(() => {
        // A slow round delays the next one rather than overlapping it.
        this.schedule(Math.max(0, (this.options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS) - (performance.now() - startedAt)));
      });
    }, delayMs);
    // Probing alone must not keep the process alive.
    this.timer.unref();
  }

  private async runRound(): Promise<void> {
    const halt = this.halt.signal;
    const results = await Promise.all(this.targets.map(async (t) => ({ region: t.region, ms: await this.measure(t, halt) })));
    if (halt.aborted) return;
    const keepRounds = this.options.keepRounds ?? 3;
    for (const { region, ms } of results) {
      if (ms !== undefined) {
        this.measured.set(region, { ms, misses: 0 });
        continue;
      }
      const last = this.measured.get(region);
      if (last && ++last.misses > keepRounds) this.measured.delete(region);
    }
    const next = Object.fromEntries([...this.measured].map(([region, m]) => [region, m.ms]));
    if (sameRtt(next, this.snapshot)) return;
    this.snapshot = next;
    try {
      this.options.onChange?.(next);
    } catch (error) {
      this.options.log?.debug({ err: error }, 'round-trip listener failed');
    }
  }

  /** The median of `tries` connects, or undefined when any of them failed. */
  private async measure(target: { region: string; host: string; port: number }, halt: AbortSignal): Promise<number | undefined> {
    const connect = this.options.connect ?? timeTcpConnect;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const samples: number[] = [];
    try {
      for (let i = 0; i < (this.options.tries ?? 3); i += 1) {
        const timedOut = new AbortController();
        const timeout = setTimeout(() => timedOut.abort(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
        try {
          const ms = await connect(target.host, target.port, AbortSignal.any([halt, timedOut.signal]));
          if (!(ms >= 0 && ms <= 60_000)) throw new Error(`implausible connect time ${ms} ms`);
          samples.push(ms);
        } finally {
          clearTimeout(timeout);
        }
      }
    } catch (error) {
      // An unreachable probe target is an everyday event on an edge box: not worth more than debug.
      const message = error instanceof Error ? error.message : String(error);
      this.options.log?.debug({ region: target.region, target: `${target.host}:${target.port}` }, `round-trip probe failed: ${message}`);
      return undefined;
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)];
    // Microseconds are already below what a TCP handshake can tell apart.
    return median === undefined ? undefined : Math.round(median * 1000) / 1000;
  }
}

/** `host:port` or `[v6]:port`, already validated by the node spec. */
export function splitHostPort(target: string): { host: string; port: number } {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon);
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port: Number(target.slice(colon + 1)) };
}

/** Time of one TCP handshake to host:port, after resolving the name; the socket is closed at once. */
export const timeTcpConnect: ConnectTimer = async (host, port, signal) => {
  signal.throwIfAborted();
  const address = isIP(host) === 0 ? (await untilAborted(lookup(host), signal)).address : host;
  signal.throwIfAborted();
  return new Promise<number>((resolve, reject) => {
    const startedAt = performance.now();
    const socket = netConnect({ host: address, port });
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      const ms = performance.now() - startedAt;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(ms);
    });
    socket.on('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(error);
    });
  });
};

/** A resolver cannot be cancelled, but the wait for it can, so the timeout covers it too. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Same regions with exactly the same values. */
export function sameRtt(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}
