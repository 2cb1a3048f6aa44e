import type { Command } from 'commander';
import type { AtollClient } from '../../client/client.js';
import { readSpecFile } from '../../client/spec-file.js';
import { withSecretValues } from '../../client/secret-values.js';
import { formatDuration } from '../../core/quantities.js';
import type { JobView } from '../../core/types.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { printObject } from '../output.js';
import { renderProgress } from '../progress.js';
import { jobSummary } from './jobs-command.js';
import { describeEstimate } from './estimate-output.js';

/** The progress line is redrawn at most this often, however fast events arrive. */
const REDRAW_MS = 200;

/** Follows the job's events and redraws progress from its counts; resolves with the final job. */
export async function waitForJob(client: AtollClient, jobId: string, onProgress: (job: JobView) => void): Promise<JobView> {
  let job = await client.getJob(jobId);
  onProgress(job);
  if (job.finishedAt !== null) return job;
  let lastDraw = 0;
  let timer: NodeJS.Timeout | undefined;
  const redraw = async () => {
    timer = undefined;
    lastDraw = Date.now();
    job = await client.getJob(jobId);
    onProgress(job);
  };
  for await (const message of client.followEvents({ job: jobId })) {
    if (message.event === 'job.finished') break;
    if (message.event === 'caught-up' || timer) continue;
    const wait = Math.max(0, REDRAW_MS - (Date.now() - lastDraw));
    timer = setTimeout(() => void redraw().catch((error: unknown) => process.stderr.write(`\nwarning: could not refresh progress: ${String(error)}\n`)), wait);
  }
  clearTimeout(timer);
  job = await client.getJob(jobId);
  onProgress(job);
  return job;
}

export function registerRunCommand(program: Command): void {
  withConnection(program.command('run').argument('<file>', 'job spec, YAML or JSON').description('submit a job'))
    .option('-w, --wait', 'show live progress until the job ends; exit 0 only if it succeeded')
    .option('--estimate', 'run nothing: where the work would go now, its cost and the bytes it would move, for each objective')
    .option('--secret <name=source>', 'the value of a secret the spec declares, from env:VARIABLE or file:PATH (repeatable)', (flag: string, all: string[]) => [...all, flag], [] as string[])
    .action(action(async (file: string, flags: CommonFlags & { wait?: boolean; estimate?: boolean; secret: string[] }) => {
      const client = clientFrom(flags);
      const spec = await withSecretValues(await readSpecFile(file), flags.secret);
      if (flags.estimate) {
        const estimate = await client.estimateJob(spec);
        printObject(flags.output, estimate, () => describeEstimate(estimate));
        return;
      }
      const submitted = await client.submitJob(spec);
      for (const warning of submitted.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
      if (!flags.wait) {
        printObject(flags.output, submitted, () => `submitted ${submitted.id} (${submitted.taskCount} tasks)\nfollow it with: atoll job ${submitted.id}`);
        return;
      }
      const tty = process.stderr.isTTY === true && flags.output === 'table';
      if (flags.output === 'table') process.stderr.write(`submitted ${submitted.id} (${submitted.taskCount} tasks)\n`);
      const started = Date.now();
      let lastPlain = '';
      let latest = submitted;
      const draw = (view: JobView) => {
        latest = view;
        if (flags.output !== 'table') return;
        const line = renderProgress(view.counts, view.taskCount, Date.now() - started, tty);
        if (tty) process.stderr.write(`\r\u001b[2K${line}`);
        else if (line.replace(/\d+\.\ds$/, '') !== lastPlain) {
          lastPlain = line.replace(/\d+\.\ds$/, '');
          process.stderr.write(`${line}\n`);
        }
      };
      // On a terminal the elapsed time keeps ticking between events.
      const ticker = tty ? setInterval(() => draw(latest), 500) : undefined;
      const job = await waitForJob(client, submitted.id, draw).finally(() => clearInterval(ticker));
      if (tty) process.stderr.write('\n');
      printObject(flags.output, job, () => {
        const lines = [jobSummary(job)];
        if (job.counts.failed > 0) lines.push(`see failures: atoll tasks ${job.id} --state failed`);
        lines.push(`wall time:  ${formatDuration(Date.now() - started)} from submit`);
        return lines.join('\n');
      });
      if (job.state !== 'succeeded') process.exitCode = 1;
    }));
}
