import type { TransferSummary } from '../../core/transfers.js';
import { describeSpend } from './spend-command.js';
import type { Command } from 'commander';
import { formatBytes, formatCpu, formatDuration } from '../../core/quantities.js';
import type { JobView, StageView, TaskView } from '../../core/types.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { renderExplanation } from './explain-command.js';
import { age, dash, printListing, printObject, renderTable, type Column } from '../output.js';

const jobColumns: readonly Column<JobView>[] = [
  { header: 'ID', value: (j) => j.id },
  { header: 'NAMESPACE', value: (j) => j.namespace },
  { header: 'STATE', value: (j) => j.state },
  { header: 'DONE', value: (j) => `${j.counts.succeeded}/${j.taskCount}`, right: true },
  { header: 'RUNNING', value: (j) => String(j.counts.running + j.counts.assigned), right: true },
  { header: 'FAILED', value: (j) => String(j.counts.failed), right: true },
  { header: 'AGE', value: (j) => age(j.createdAt) },
];

const taskColumns: readonly Column<TaskView>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'INDEX', value: (t) => String(t.index), right: true },
  { header: 'STAGE', value: (t) => t.stageName },
  { header: 'STATE', value: (t) => t.state },
  { header: 'NODE', value: (t) => dash(t.node) },
  { header: 'WHERE', value: (t) => (t.location === undefined ? '-' : `${t.location.jurisdiction ?? '?'} ${t.location.provider}/${t.location.region}`) },
  { header: 'ATTEMPTS', value: (t) => String(t.attempts), right: true },
  { header: 'EXIT', value: (t) => dash(t.exitCode), right: true },
  { header: 'REASON', value: (t) => dash(t.reason) },
];

const stageColumns: readonly Column<StageView>[] = [
  { header: 'STAGE', value: (s) => s.name },
  { header: 'STATE', value: (s) => s.state },
  { header: 'AFTER', value: (s) => dash(s.dependsOn.join(',')) },
  { header: 'TASKS', value: (s) => (s.firstTask === null ? '-' : `${s.firstTask}..${s.firstTask + s.tasks - 1}`), right: true },
  { header: 'DONE', value: (s) => `${s.counts.succeeded}/${s.tasks}`, right: true },
  { header: 'FAILED', value: (s) => String(s.counts.failed), right: true },
  { header: 'REASON', value: (s) => dash(s.reason) },
];

export function jobSummary(job: JobView): string {
  const elapsed = job.startedAt === null ? null : (job.finishedAt ?? Date.now()) - job.startedAt;
  const c = job.counts;
  const lines = [
    `job:        ${job.id}`,
    `name:       ${job.name} (namespace ${job.namespace})`,
    `state:      ${job.state}${job.reason ? ` — ${job.reason}` : ''}`,
    ...(job.heldBy === null || job.heldBy === undefined ? [] : [`held:       by budget policy ${job.heldBy}: its tasks start when the namespace has budget again`]),
    `tasks:      ${job.taskCount} ${job.stages.some((s) => s.state === 'waiting') ? 'so far' : 'total'}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.running} running, ${c.assigned} starting, ${c.pending} pending, ${c.cancelled} cancelled`,
  ];
  const [only] = job.spec.stages;
  if (job.spec.stages.length === 1 && only !== undefined) {
    lines.push(
      `command:    ${only.command.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
      `resources:  ${formatCpu(only.resources.cpu)} cpu, ${formatBytes(only.resources.memory)} per task`,
    );
  }
  lines.push(
    `submitted:  ${new Date(job.createdAt).toISOString()} (${age(job.createdAt)} ago)`,
    `runtime:    ${elapsed === null ? 'not started' : formatDuration(elapsed)}`,
    ...(job.cost === undefined ? [] : [`cost:       ${describeSpend(job.cost)}`]),
  );
  if (job.spec.stages.length > 1) lines.push('', renderTable(job.stages, stageColumns).trimEnd());
  return lines.join('\n');
}

function transferSummary(t: TransferSummary): string {
  if (t.transfers === 0) return 'transfers: none (every task read its data where it lives)';
  const kinds = (Object.entries(t.byRoute) as [string, number][]).filter(([, b]) => b > 0).map(([kind, b]) => `${kind} ${formatBytes(b)}`).join(', ');
  const routes = t.routes.slice(0, 20).map((r) => `  ${formatBytes(r.bytes).padStart(9)}  ${r.from} -> ${r.to} (${r.kind}, ${r.transfers} transfer${r.transfers === 1 ? '' : 's'})`);
  return [`transfers: ${t.transfers}, ${formatBytes(t.bytes)} moved: ${kinds}`, ...routes].join('\n');
}

export function registerJobCommands(program: Command): void {
  withConnection(program.command('jobs').description('list jobs, newest first'))
    .option('--namespace <ns>', 'only this namespace')
    .option('--state <state>', 'only jobs in this state')
    .option('--limit <n>', 'at most this many', '50')
    .action(action(async (flags: CommonFlags & { namespace?: string; state?: string; limit: string }) => {
      const { items, total } = await clientFrom(flags).listJobs({
        ...(flags.namespace ? { namespace: flags.namespace } : {}),
        ...(flags.state ? { state: flags.state } : {}),
        limit: Number(flags.limit),
      });
      printListing(flags.output, items, jobColumns, 'No jobs yet. Submit one with `atoll run examples/jobs/hello.yaml --wait`.');
      if (flags.output === 'table' && total > items.length) process.stdout.write(`(${items.length} of ${total}; use --limit)\n`);
    }));

  withConnection(program.command('job').argument('<job>').description('show one job: state, task counts, runtime'))
    .option('--transfers', 'also show the bytes it moved between sites, regions and providers')
    .action(action(async (id: string, flags: CommonFlags & { transfers?: boolean }) => {
      const client = clientFrom(flags);
      const job = await client.getJob(id);
      if (!flags.transfers) {
        printObject(flags.output, job, () => jobSummary(job));
        return;
      }
      const transfers = await client.jobTransfers(id);
      printObject(flags.output, { ...job, transfers }, () => `${jobSummary(job)}\n\n${transferSummary(transfers)}`);
    }));

  withConnection(program.command('tasks').argument('<job>').description("list a job's tasks"))
    .option('--state <state>', 'only tasks in this state')
    .action(action(async (id: string, flags: CommonFlags & { state?: string }) => {
      const client = clientFrom(flags);
      const tasks = flags.state
        ? (await client.listTasks(id, { state: flags.state, limit: 10_000 })).items
        : await client.allTasks(id);
      printListing(flags.output, tasks, taskColumns, `Job ${id} has no tasks${flags.state ? ` in state ${flags.state}` : ''}.`);
    }));

  withConnection(program.command('task').argument('<task>').description('show one task: attempts and why it was placed where it was'))
    .action(action(async (id: string, flags: CommonFlags) => {
      const client = clientFrom(flags);
      const [task, explained, nodes] = await Promise.all([client.getTask(id), client.explainTask(id), client.listNodes()]);
      printObject(flags.output, { ...task, placement: explained }, () => {
        const lines = [renderTable([task], taskColumns), '', 'attempts:'];
        for (const a of task.history) {
          lines.push(`  #${a.epoch} on ${a.node}: ${a.state}${a.exitCode === null ? '' : ` (exit ${a.exitCode})`}${a.reason ? ` — ${a.reason}` : ''}`);
        }
        if (task.history.length === 0) lines.push('  none yet');
        lines.push('', renderExplanation(explained, new Map(nodes.items.map((n) => [n.name, n]))));
        return lines.join('\n');
      });
    }));

  withConnection(program.command('cancel').argument('<job>').description('cancel a job: pending tasks are dropped, running ones stopped'), false)
    .action(action(async (id: string, flags: CommonFlags) => {
      const job = await clientFrom(flags).cancelJob(id);
      process.stdout.write(`${job.id} ${job.state}\n`);
    }));
}
