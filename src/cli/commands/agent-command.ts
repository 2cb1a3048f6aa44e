import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import pino from 'pino';
import { Agent } from '../../agent/agent.js';
import { AtollError } from '../../core/errors.js';
import { parseYamlDocument } from '../../core/yaml-document.js';
import { parseNodeSpec, type NodeSpec } from '../../core/node-spec.js';
import { parseDurationMs } from '../../core/quantities.js';
import { action } from '../common.js';

interface AgentFlags {
  server: string;
  insecure?: boolean;
  joinToken?: string;
  joinTokenFile?: string;
  dataDir?: string;
  config?: string;
  name?: string;
  provider?: string;
  region?: string;
  zone?: string;
  site?: string;
  kind?: string;
  jurisdiction?: string;
  geo?: string;
  cpu?: string;
  memory?: string;
  priceHour?: string;
  label: string[];
  probe: string[];
  probeInterval?: string;
  dataListen: string;
  dataUrl?: string;
  /** commander's --no-data-server sets this false. */
  dataServer: boolean;
  allowUnsandboxed?: boolean;
  unsandboxed?: boolean;
  expose: string[];
  logLevel: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseGeo(value: string): { lat: number; lon: number } {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(value);
  if (!match) throw new AtollError('invalid_request', `--geo: expected LAT,LON like 53.35,-6.26, got ${JSON.stringify(value)}`);
  return { lat: Number(match[1]), lon: Number(match[2]) };
}

function parseLabel(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new AtollError('invalid_request', `--label: expected key=value, got ${JSON.stringify(value)}`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** `REGION=HOST:PORT`; the node spec checks the parts. */
function parseProbe(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new AtollError('invalid_request', `--probe: expected REGION=HOST:PORT like eu-west-1=probe.example.com:443, got ${JSON.stringify(value)}`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

function probeIntervalMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 100) throw new AtollError('invalid_request', `--probe-interval: expected a duration of at least 100ms like 30s, got ${JSON.stringify(value)}`);
  return ms;
}

/** --data-listen HOST:PORT (port 0 picks one), --data-url and --no-data-server, as the agent takes them. */
function dataOptions(flags: AgentFlags): { listen: { host: string; port: number }; advertise?: string } | null {
  if (!flags.dataServer) return null;
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(flags.dataListen);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) throw new AtollError('invalid_request', `--data-listen: expected HOST:PORT like 0.0.0.0:7701 (port 0 picks a free one), got ${JSON.stringify(flags.dataListen)}`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  if (flags.dataUrl !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(flags.dataUrl)) {
    throw new AtollError('invalid_request', `--data-url: expected the URL peers reach this agent on, like http://10.0.0.7:7701, got ${JSON.stringify(flags.dataUrl)}`);
  }
  return { listen: { host, port }, ...(flags.dataUrl === undefined ? {} : { advertise: flags.dataUrl.replace(/\/$/, '') }) };
}

/** The node's identity from --config (if given) with flags on top; validated as one document. */
export async function nodeSpecFromFlags(flags: AgentFlags): Promise<NodeSpec> {
  let base: Record<string, unknown> = {};
  if (flags.config) {
    const bytes = await readFile(flags.config).catch((error: NodeJS.ErrnoException) => {
      throw new AtollError('invalid_request', `cannot read ${flags.config}: ${error.code ?? error.message}`);
    });
    const parsed = parseYamlDocument(bytes, { what: flags.config, code: 'invalid_request' });
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new AtollError('invalid_request', `${flags.config}: expected a mapping of node fields`);
    }
    base = parsed as Record<string, unknown>;
  }
  const numberFlag = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new AtollError('invalid_request', `--${name}: expected a number, got ${JSON.stringify(value)}`);
    return n;
  };
  const overrides: Record<string, unknown> = {
    name: flags.name,
    provider: flags.provider,
    region: flags.region,
    zone: flags.zone,
    site: flags.site,
    kind: flags.kind,
    jurisdiction: flags.jurisdiction,
    geo: flags.geo === undefined ? undefined : parseGeo(flags.geo),
    cpu: flags.cpu,
    memory: flags.memory,
    priceHour: numberFlag('price-hour', flags.priceHour),
    labels: flags.label.length > 0 ? { ...(base.labels as object | undefined), ...Object.fromEntries(flags.label.map(parseLabel)) } : undefined,
    probes: flags.probe.length > 0 ? { ...(base.probes as object | undefined), ...Object.fromEntries(flags.probe.map(parseProbe)) } : undefined,
  };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) base[key] = value;
  return parseNodeSpec(base);
}

/** The join token from --join-token, --join-token-file or $ATOLL_JOIN_TOKEN, in that order. */
async function joinTokenFrom(flags: AgentFlags): Promise<string | undefined> {
  if (flags.joinToken) return flags.joinToken;
  if (flags.joinTokenFile) {
    const text = await readFile(flags.joinTokenFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new AtollError('invalid_request', `--join-token-file: cannot read ${flags.joinTokenFile}: ${error.code ?? error.message}`);
    });
    return text.trim();
  }
  return process.env.ATOLL_JOIN_TOKEN || undefined;
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run a node agent: dials out to the control plane and runs the tasks it is given')
    .requiredOption('--server <url>', 'control plane URL, e.g. https://127.0.0.1:7700')
    .option('--insecure', 'allow a plain http:// control plane (one started with --insecure): local development only')
    .option('--join-token <token>', 'cluster join token, needed on first start only (visible in `ps`: prefer --join-token-file or $ATOLL_JOIN_TOKEN)')
    .option('--join-token-file <file>', 'read the join token from this file')
    .option('--data-dir <dir>', 'agent state: credential, result journal, attempt dirs (default ./.atoll-agent-<name>)')
    .option('--config <file>', 'node.yaml with name, provider, region, zone, site, kind, jurisdiction, geo, cpu, memory, priceHour, labels, taints, rttMs, probes')
    .option('--name <name>', 'node name')
    .option('--provider <provider>', 'e.g. aws, gcp, hetzner, edge')
    .option('--region <region>', 'e.g. eu-west-1')
    .option('--zone <zone>', 'e.g. eu-west-1a')
    .option('--site <site>', 'e.g. shop-paris-11')
    .option('--kind <kind>', 'cloud, edge or onprem')
    .option('--jurisdiction <code>', 'ISO 3166-1 alpha-2 country, e.g. DE')
    .option('--geo <lat,lon>', 'location, e.g. 53.35,-6.26')
    .option('--cpu <cores>', 'CPU cores offered, e.g. 4 or 500m')
    .option('--memory <size>', 'memory offered, e.g. 8Gi')
    .option('--price-hour <usd>', 'hourly price of the node in USD')
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('--probe <region=host:port>', 'measure round trips to a region by timing TCP connects to host:port (repeatable; overrides rttMs for that region)', collect, [])
    .option('--probe-interval <duration>', 'how often to measure the probes', '30s')
    .option('--data-listen <host:port>', 'where to serve this node\'s partitions to peers and uploads (port 0 picks one)', '127.0.0.1:0')
    .option('--data-url <url>', 'the URL peers reach the data server on, if not the listening address (NAT mapping, proxy)')
    .option('--no-data-server', 'listen for no peers (behind NAT): transfers to and from this node are relayed through its control-plane connection')
    .option('--allow-unsandboxed', 'run tasks as plain processes when bubblewrap (bwrap) is missing or unusable, instead of refusing them (a task can then read this agent\'s credential)')
    .option('--unsandboxed', 'run tasks as plain processes even where bubblewrap works: for development and tests that watch task processes from the host')
    .option('--expose <path>', 'a host file or directory sandboxed tasks may read at the same path, even under /tmp (repeatable): scripts and tools jobs run', collect, [])
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .action(action(async (flags: AgentFlags) => {
      if (flags.server.startsWith('http:') && flags.insecure !== true) {
        throw new AtollError('invalid_request', `--server: ${flags.server} is plain HTTP, which would send the join token and all traffic unencrypted; use the https:// address, or pass --insecure for a local development server started with --insecure`);
      }
      for (const exposed of flags.expose) {
        if (!isAbsolute(exposed) || !existsSync(exposed)) throw new AtollError('invalid_request', `--expose: expected an absolute path that exists, got ${JSON.stringify(exposed)}`);
      }
      const node = await nodeSpecFromFlags(flags);
      const data = dataOptions(flags);
      const probeEvery = probeIntervalMs(flags.probeInterval);
      const joinToken = await joinTokenFrom(flags);
      const log = pino({ level: flags.logLevel, base: { node: node.name } }, pino.destination(2));
      const agent = new Agent({
        serverUrl: flags.server,
        dataDir: flags.dataDir ?? `.atoll-agent-${node.name}`,
        node,
        log,
        ...(joinToken ? { joinToken } : {}),
        ...(probeEvery === undefined ? {} : { probeIntervalMs: probeEvery }),
        data,
        allowUnsandboxed: flags.allowUnsandboxed === true,
        unsandboxed: flags.unsandboxed === true,
        ...(flags.joinTokenFile === undefined ? {} : { hideFromTasks: [flags.joinTokenFile] }),
        exposeToTasks: flags.expose,
      });
      await agent.start();
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        agent.stop().then(
          () => process.exit(process.exitCode ?? 0),
          (error: unknown) => {
            log.error({ err: error }, 'error while stopping');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }));
}
