import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DatasetSummary, PartitionRecord, UploadGrant } from '../../core/data-spec.js';
import { AtollError } from '../../core/errors.js';
import { formatBytes } from '../../core/quantities.js';
import { holderTls } from '../../client/holder-tls.js';
import { ApiError } from '../../client/client.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom, resolveConnection } from '../connection.js';
import { age, dash, printListing, printObject, renderTable, type Column } from '../output.js';

const datasetColumns: readonly Column<DatasetSummary>[] = [
  { header: 'NAMESPACE', value: (d) => d.namespace },
  { header: 'DATASET', value: (d) => d.name },
  { header: 'PARTITIONS', value: (d) => String(d.partitions), right: true },
  { header: 'SIZE', value: (d) => formatBytes(d.bytes), right: true },
  { header: 'NODES', value: (d) => d.nodes.join(',') },
  { header: 'CLASSES', value: (d) => dash(d.residencyClasses.join(',')) },
];

const partitionColumns: readonly Column<PartitionRecord>[] = [
  { header: 'PARTITION', value: (p) => p.partition },
  { header: 'NODE', value: (p) => p.node },
  { header: 'SIZE', value: (p) => formatBytes(p.bytes), right: true },
  { header: 'SHA256', value: (p) => p.sha256.slice(0, 12) },
  { header: 'CLASS', value: (p) => dash(p.residencyClass) },
  { header: 'CREATED BY', value: (p) => p.createdBy },
  { header: 'AGE', value: (p) => age(p.createdAt) },
];

interface PartitionFlags extends CommonFlags {
  readonly dataset: string;
  readonly partition: string;
  readonly node: string;
  readonly class?: string;
  readonly namespace: string;
}

/** The flags naming a partition and where it goes, shared by put and register. */
function partitionTarget(command: Command): Command {
  return command
    .requiredOption('--dataset <name>', 'the dataset the partition belongs to')
    .requiredOption('--partition <name>', 'the partition name (one file)')
    .requiredOption('--node <name>', 'the node that keeps it')
    .option('--class <residency-class>', 'residency class (defined by a policy), which limits where the data may be read')
    .option('--namespace <ns>', 'namespace', 'default');
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('datasets and where their partitions live');

  withConnection(partitionTarget(data.command('put').argument('<file>').description('upload a file as a partition to the agent of --node (relayed by the control plane if the node has no reachable address)')))
    .action(action(async (file: string, flags: PartitionFlags) => {
      const client = clientFrom(flags);
      const path = resolve(file);
      const size = (await stat(path).catch(() => undefined))?.size;
      if (size === undefined) throw new AtollError('invalid_request', `cannot read ${file}; give a path to a file`);
      const grant = await client.createUpload({ namespace: flags.namespace, dataset: flags.dataset, partition: flags.partition, node: flags.node, residencyClass: flags.class ?? null });
      const stored = await upload(path, size, grant, flags.node, client.server, resolveConnection(flags).ca);
      // The agent reports the partition to the control plane; wait until the catalog shows it.
      const record = await waitForCatalog(() => client.getDataset(flags.dataset, { namespace: flags.namespace }), flags.partition, stored.sha256);
      printObject(flags.output, record, () => `stored ${flags.dataset}/${flags.partition} on ${record.node}: ${formatBytes(record.bytes)}, sha256 ${record.sha256}`);
    }));

  withConnection(partitionTarget(data.command('register').argument('<path>').description('take a file already on the node\'s disk into its store as a partition')))
    .action(action(async (path: string, flags: PartitionFlags) => {
      const record = await clientFrom(flags).registerData({ namespace: flags.namespace, dataset: flags.dataset, partition: flags.partition, node: flags.node, path, residencyClass: flags.class ?? null });
      printObject(flags.output, record, () => `registered ${flags.dataset}/${flags.partition} on ${record.node}: ${formatBytes(record.bytes)}, sha256 ${record.sha256}`);
    }));

  withConnection(data.command('ls').description('list datasets').option('--namespace <ns>', 'only this namespace'))
    .action(action(async (flags: CommonFlags & { namespace?: string }) => {
      const { items } = await clientFrom(flags).listDatasets(flags.namespace === undefined ? {} : { namespace: flags.namespace });
      printListing(flags.output, items, datasetColumns, 'No datasets yet. Add a partition with `atoll data put FILE --dataset D --partition P --node N`.');
    }));

  withConnection(data.command('show').argument('<dataset>').description('a dataset\'s partitions: where each lives, its size, checksum and class').option('--namespace <ns>', 'namespace', 'default'))
    .action(action(async (name: string, flags: CommonFlags & { namespace: string }) => {
      const dataset = await clientFrom(flags).getDataset(name, { namespace: flags.namespace });
      printObject(flags.output, dataset, () => [
        `${dataset.namespace}/${dataset.name}: ${dataset.partitions} partitions, ${formatBytes(dataset.bytes)} on ${dataset.nodes.join(', ')}`,
        '',
        renderTable(dataset.items, partitionColumns),
      ].join('\n'));
    }));

  withConnection(data.command('rm').argument('<dataset>').description('remove a dataset, or one partition, from the catalog and the nodes').option('--partition <name>', 'only this partition').option('--namespace <ns>', 'namespace', 'default'))
    .action(action(async (name: string, flags: CommonFlags & { namespace: string; partition?: string }) => {
      const result = await clientFrom(flags).removeData(name, { namespace: flags.namespace, ...(flags.partition === undefined ? {} : { partition: flags.partition }) });
      printObject(flags.output, result, () => `removed ${result.removed.length} partition${result.removed.length === 1 ? '' : 's'} of ${name}`);
    }));
}

/**
 * Streams the file to the agent with the grant's token (straight to its data server, or through
 * the control plane's relay when the grant's URL is a path on it); resolves with what was stored.
 */
function upload(path: string, size: number, grant: UploadGrant, node: string, server: string, ca: string | undefined): Promise<{ sha256: string; bytes: number }> {
  const url = new URL(grant.url, server);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  // Through the control plane's relay the upload trusts what the client trusts; straight to the
  // node's data server, the data CA the grant names, and the certificate must name that node.
  const relayed = url.origin === new URL(server).origin;
  const trust = relayed ? (ca === undefined ? {} : { ca }) : grant.ca === undefined ? {} : holderTls(grant.ca, node);
  return new Promise((resolvePromise, reject) => {
    const req = send(url, { method: 'PUT', ...trust, headers: { authorization: `Bearer ${grant.token}`, 'content-length': String(size), 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const parsed = parseJson(body);
        if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
          resolvePromise(parsed as { sha256: string; bytes: number });
          return;
        }
        const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? (body || `HTTP ${res.statusCode}`);
        reject(new AtollError('invalid_request', `node refused the upload: ${message}`));
      });
    });
    req.on('error', (error) => reject(new AtollError('unavailable', `could not reach the node at ${url.origin}: ${error.message}`, { cause: error })));
    createReadStream(path).on('error', (error) => req.destroy(error)).pipe(req);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): the caller falls back to the raw text.
    return undefined;
  }
}

async function waitForCatalog(read: () => Promise<{ readonly items: readonly PartitionRecord[] }>, partition: string, sha256: string): Promise<PartitionRecord> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = await read().then(
      (d) => d.items.find((p) => p.partition === partition && p.sha256 === sha256),
      (error: unknown) => {
        // A new dataset is not found until its first partition is catalogued; anything else is real.
        if (error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      },
    );
    if (found) return found;
    if (Date.now() > deadline) throw new AtollError('unavailable', 'the node stored the file but the control plane has not catalogued it after 30 s; check `atoll data show`');
    await new Promise((r) => setTimeout(r, 100));
  }
}
