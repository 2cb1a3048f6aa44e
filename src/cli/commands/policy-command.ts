import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { AtollError } from '../../core/errors.js';
import { parseYamlDocuments } from '../../core/yaml-document.js';
import type { PolicyChangeResult, PolicyImpact } from '../../core/policy-impact.js';
import type { PolicyRecord } from '../../core/policy-spec.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { age, dash, printListing, printObject, renderTable, type Column } from '../output.js';

/** Largest policy file read; the server refuses bodies over 1 MiB anyway. */
const MAX_POLICY_FILE_BYTES = 1024 * 1024;
/** Rows of each impact list printed in table output; JSON and YAML carry them all. */
const MAX_IMPACT_ROWS = 20;

const columns: readonly Column<PolicyRecord>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'NAMESPACES', value: (p) => p.spec.namespaces?.join(',') ?? '(all)' },
  { header: 'DENY', value: (p) => dash(p.spec.denyJurisdictions?.join(',')) },
  { header: 'ALLOW PROVIDERS', value: (p) => dash(p.spec.allowProviders?.join(',')) },
  {
    header: 'RESIDENCY CLASSES',
    value: (p) => dash(Object.entries(p.spec.residencyClasses ?? {}).map(([name, members]) => `${name}=${members.join(',')}`).join(' ')),
  },
  { header: 'UPDATED', value: (p) => `${age(p.updatedAt)} ago` },
];

interface PolicyDocument {
  /** 1-based position in the file, for messages. */
  readonly position: number;
  readonly name: string;
  readonly spec: unknown;
}

/**
 * The policies of a YAML or JSON file: one per document, documents separated by `---`. Every
 * document is checked for a name before any is sent, so a file is not half applied for that.
 */
export async function readPolicyFile(file: string): Promise<PolicyDocument[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new AtollError('invalid_request', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (bytes.length > MAX_POLICY_FILE_BYTES) throw new AtollError('invalid_spec', `${file} is larger than 1 MiB`);
  const out: PolicyDocument[] = [];
  parseYamlDocuments(bytes, { what: file, code: 'invalid_spec' }).forEach((spec, i) => {
    const position = i + 1;
    // A stray `---` at the start or end of a file makes an empty document; it holds no policy.
    if (spec === null || spec === undefined) return;
    if (typeof spec !== 'object' || Array.isArray(spec)) {
      throw new AtollError('invalid_spec', `${file}, document ${position}: expected a policy (a mapping with name and rules)`);
    }
    const name = (spec as Record<string, unknown>).name;
    if (typeof name !== 'string' || name === '') {
      throw new AtollError('invalid_spec', `${file}, document ${position}: the policy has no name; add one, like "name: gdpr"`);
    }
    out.push({ position, name, spec });
  });
  if (out.length === 0) throw new AtollError('invalid_spec', `${file} holds no policy`);
  return out;
}

function limited<T>(rows: readonly T[]): { shown: readonly T[]; more: string[] } {
  const more = rows.length > MAX_IMPACT_ROWS ? [`    … and ${rows.length - MAX_IMPACT_ROWS} more (-o json lists them all)`] : [];
  return { shown: rows.slice(0, MAX_IMPACT_ROWS), more };
}

const indent = (text: string) => text.split('\n').map((line) => `    ${line}`).join('\n');

/** The impact in lines for people: blocked jobs, then attempts left running on denied nodes. */
export function describeImpact(impact: PolicyImpact): string[] {
  const { blockedJobs, runningOnDeniedNodes } = impact;
  if (blockedJobs.length === 0 && runningOnDeniedNodes.length === 0) return ['  blocks no queued or running work'];
  const lines: string[] = [];
  if (blockedJobs.length > 0) {
    const { shown, more } = limited(blockedJobs);
    const n = blockedJobs.length;
    lines.push(`  blocks ${n === 1 ? '1 queued job: no ready node may take its' : `${n} queued jobs: no ready node may take their`} pending tasks`);
    lines.push(indent(renderTable(shown, [
      { header: 'JOB', value: (j) => j.jobId },
      { header: 'NAMESPACE', value: (j) => j.namespace },
      { header: 'PENDING', value: (j) => String(j.pendingTasks), right: true },
      { header: 'REASON', value: (j) => j.reason },
    ])), ...more);
  }
  if (runningOnDeniedNodes.length > 0) {
    const { shown, more } = limited(runningOnDeniedNodes);
    const n = runningOnDeniedNodes.length;
    lines.push(`  ${n === 1 ? '1 attempt runs' : `${n} attempts run`} on nodes it denies; they keep running (stop them with \`atoll cancel JOB\`):`);
    lines.push(indent(renderTable(shown, [
      { header: 'ATTEMPT', value: (a) => a.attemptId },
      { header: 'NODE', value: (a) => a.node },
      { header: 'REASON', value: (a) => a.reason },
    ])), ...more);
  }
  return lines;
}

function describeApplied(result: PolicyChangeResult): string {
  const verb = result.created ? 'created' : 'replaced';
  const head = result.dryRun ? `policy ${result.policy.name} would be ${verb} (dry run, nothing changed)` : `policy ${result.policy.name} ${verb}`;
  return [head, ...describeImpact(result.impact)].join('\n');
}

function describePolicy(policy: PolicyRecord): string {
  return [
    renderTable([policy], columns),
    '',
    `created:  ${new Date(policy.createdAt).toISOString()} (${age(policy.createdAt)} ago)`,
    `updated:  ${new Date(policy.updatedAt).toISOString()} (${age(policy.updatedAt)} ago)`,
    'spec:',
    indent(stringify(policy.spec).trimEnd()),
  ].join('\n');
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('cluster policies: hard placement rules that jobs cannot loosen');

  withConnection(
    policy
      .command('apply')
      .argument('<file>', 'policy file, YAML or JSON; a YAML file may hold several policies separated by ---')
      .description('create or replace the policies of a file, in order, and show what each blocks'),
  )
    .option('--dry-run', 'only show which queued and running work each policy would block; change nothing')
    .action(action(async (file: string, flags: CommonFlags & { dryRun?: boolean }) => {
      const client = clientFrom(flags);
      const documents = await readPolicyFile(file);
      const results: PolicyChangeResult[] = [];
      for (const document of documents) {
        try {
          results.push(await client.applyPolicy(document.name, document.spec, { dryRun: flags.dryRun === true }));
        } catch (error) {
          const before = results.length === 0 || flags.dryRun ? '' : `; the ${results.length} before it ${results.length === 1 ? 'was' : 'were'} applied`;
          process.stderr.write(`${file}, document ${document.position} (policy ${document.name}) was refused${before}\n`);
          throw error;
        }
        if (flags.output === 'table') process.stdout.write(`${describeApplied(results.at(-1)!)}\n`);
      }
      if (flags.output !== 'table') printObject(flags.output, results, () => '');
    }));

  withConnection(policy.command('list').description('list cluster policies'))
    .action(action(async (flags: CommonFlags) => {
      const { items } = await clientFrom(flags).listPolicies();
      printListing(flags.output, items, columns, 'No cluster policies. Apply one with `atoll policy apply examples/policies/gdpr.yaml`.');
    }));

  withConnection(policy.command('show').argument('<name>').description('show one policy'))
    .action(action(async (name: string, flags: CommonFlags) => {
      const found = await clientFrom(flags).getPolicy(name);
      printObject(flags.output, found, () => describePolicy(found));
    }));

  withConnection(policy.command('delete').argument('<name>').description('delete a policy; work it blocked may be placed again'))
    .action(action(async (name: string, flags: CommonFlags) => {
      const result = await clientFrom(flags).deletePolicy(name);
      printObject(flags.output, result, () => [`policy ${name} deleted`, ...describeImpact(result.impact)].join('\n'));
    }));
}
