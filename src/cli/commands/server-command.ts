import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AtollError } from '../../core/errors.js';
import { parseDurationMs } from '../../core/quantities.js';
import { DEFAULT_PORT, startServer } from '../../server/server.js';
import { action, reportError } from '../common.js';
import { DEFAULT_DATA_DIR, SERVER_URL_FILE } from '../connection.js';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new AtollError('invalid_request', `--port: expected 0..65535, got ${JSON.stringify(value)}`);
  return port;
}

export function parseDurationFlag(flag: string): (value: string) => number {
  return (value) => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms <= 0) throw new AtollError('invalid_request', `${flag}: expected a duration like 500ms or 2s, got ${JSON.stringify(value)}`);
    return ms;
  };
}

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the control plane (HTTP API, agent gateway, scheduler) with state in <data-dir>')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', parsePort, DEFAULT_PORT)
    .option('--data-dir <dir>', 'where state, tokens and the database live', DEFAULT_DATA_DIR)
    .option('--heartbeat <duration>', 'agent heartbeat interval', parseDurationFlag('--heartbeat'), 1000)
    .option('--unreachable-after <duration>', 'mark a node unreachable after this long without a heartbeat (default 3 heartbeats; a closed connection counts at once)', parseDurationFlag('--unreachable-after'))
    .option('--lost-after <duration>', "re-place an unreachable node's work after this long (default 1.5 heartbeats)", parseDurationFlag('--lost-after'))
    .option('--restart-grace <duration>', 'after a restart, how long nodes have to reconnect before their work is re-placed (default 15s)', parseDurationFlag('--restart-grace'))
    .option('--pricing <file>', 'price book to put in force (YAML; default: the one stored by an earlier start, or on first start examples/pricing.yaml)')
    .option('--tls-cert <file>', 'serve this certificate (PEM) instead of one from the cluster CA; needs --tls-key')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--tls-san <name>', 'an extra DNS name or IP address for the generated server certificate (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--node-cert-ttl <duration>', 'lifetime of node client certificates; agents renew at 60% of it', parseDurationFlag('--node-cert-ttl'), 24 * 3_600_000)
    .option('--insecure', 'serve plain HTTP and WS, no TLS: local development on loopback only')
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .action(action(async (flags: { host: string; port: number; dataDir: string; heartbeat: number; unreachableAfter?: number; lostAfter?: number; restartGrace?: number; pricing?: string; logLevel: string; tlsCert?: string; tlsKey?: string; tlsSan: string[]; nodeCertTtl: number; insecure?: boolean }) => {
      const server = await startServer({
        host: flags.host,
        port: flags.port,
        dataDir: flags.dataDir,
        heartbeatMs: flags.heartbeat,
        logLevel: flags.logLevel,
        tls: {
          insecure: flags.insecure === true, sans: flags.tlsSan,
          ...(flags.tlsCert === undefined ? {} : { certFile: resolve(flags.tlsCert) }),
          ...(flags.tlsKey === undefined ? {} : { keyFile: resolve(flags.tlsKey) }),
        },
        nodeCertLifetimeMs: flags.nodeCertTtl,
        ...(flags.unreachableAfter === undefined ? {} : { unreachableAfterMs: flags.unreachableAfter }),
        ...(flags.lostAfter === undefined ? {} : { lostAfterMs: flags.lostAfter }),
        ...(flags.restartGrace === undefined ? {} : { restartGraceMs: flags.restartGrace }),
        ...(flags.pricing === undefined ? {} : { pricingFile: resolve(flags.pricing) }),
      }).catch((error: unknown) => {
        // The store, timers and sockets opened before the failure would keep the process alive.
        const code = (error as NodeJS.ErrnoException).code;
        reportError(code === 'EADDRINUSE' ? new AtollError('unavailable', `port ${flags.port} on ${flags.host} is in use; stop what uses it or pass --port`) : error);
        process.exit(1);
      });
      writeFileSync(join(resolve(flags.dataDir), SERVER_URL_FILE), `${server.url}\n`);
      const lines = [
        `atoll control plane listening on ${server.url}`,
        `  admin API token: ${server.tokens.adminTokenFile}${server.tokens.created ? ' (new)' : ''}`,
        `  agent join token: ${server.tokens.joinTokenFile}${server.tokens.created ? ' (new)' : ''}`,
        server.tls ? `  cluster CA: ${server.caFile} (clients trust it with --ca or ATOLL_CA)` : '  WARNING: --insecure: plain HTTP, no TLS; for local development on loopback only',
        `  state: ${resolve(flags.dataDir)}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`received ${signal}, shutting down\n`);
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`error during shutdown: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    }));
}
