import type { Command } from 'commander';
import { AtollError } from '../../core/errors.js';
import type { LogChunk } from '../../core/types.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';

function write(chunk: LogChunk): void {
  (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data);
}

function parseAttempt(value: string | undefined): number | 'all' | undefined {
  if (value === undefined || value === 'all') return value;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new AtollError('invalid_request', `--attempt: expected an attempt number like 2 or "all", got ${JSON.stringify(value)}`);
  return n;
}

export function registerLogsCommand(program: Command): void {
  withConnection(program.command('logs').argument('<task>').description("print a task's output (stdout to stdout, stderr to stderr)"), false)
    .option('-f, --follow', 'keep streaming until the task ends')
    .option('--attempt <n>', 'which attempt (default: the latest; "all" for every one)')
    .action(action(async (id: string, flags: CommonFlags & { follow?: boolean; attempt?: string }) => {
      const client = clientFrom(flags);
      const attempt = parseAttempt(flags.attempt);
      const query = attempt === undefined ? {} : { attempt };
      if (!flags.follow) {
        const { items } = await client.getLogs(id, query);
        for (const chunk of items) write(chunk);
        return;
      }
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      try {
        for await (const message of client.followLogs(id, query, controller.signal)) {
          if (message.event === 'log') write(JSON.parse(message.data) as LogChunk);
          if (message.event === 'end') break;
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
    }));
}
