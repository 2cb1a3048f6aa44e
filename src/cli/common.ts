import { type Command, Option } from 'commander';
import { ApiError } from '../client/client.js';
import { isAtollError } from '../core/errors.js';
import type { ConnectionFlags } from './connection.js';
import { parseFormat, type OutputFormat } from './output.js';

export interface CommonFlags extends ConnectionFlags {
  readonly output: OutputFormat;
}

/** Adds --server/--token (and -o for commands that print records). */
export function withConnection(command: Command, output = true): Command {
  command
    .addOption(new Option('--server <url>', 'control plane URL (default: $ATOLL_SERVER, ./.atoll/server.url, https://127.0.0.1:7700)'))
    .addOption(new Option('--token <token>', 'API token (default: $ATOLL_TOKEN, ./.atoll/admin.token)'))
    .addOption(new Option('--ca <file>', "the cluster CA certificate the server's must chain to (default: $ATOLL_CA, ./.atoll/ca.crt)"));
  if (output) command.addOption(new Option('-o, --output <format>', 'table, json or yaml').default('table').argParser(parseFormat));
  return command;
}

/** Prints an error the way every command does, with field problems one per line, and sets the exit code. */
export function reportError(error: unknown): void {
  if (error instanceof ApiError || isAtollError(error)) {
    process.stderr.write(`error: ${error.message}\n`);
    const problems = error instanceof ApiError ? error.problems : [];
    if (problems.length > 0 && !error.message.includes('\n')) {
      for (const p of problems) process.stderr.write(`  ${p.path || '(top level)'}: ${p.message}\n`);
    }
  } else if (error instanceof Error) {
    process.stderr.write(`error: ${error.message}\n`);
    if (process.env.ATOLL_DEBUG) process.stderr.write(`${error.stack ?? ''}\n`);
  } else {
    process.stderr.write(`error: ${String(error)}\n`);
  }
  process.exitCode = 1;
}

/** Wraps an action so errors print cleanly instead of as stack traces. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      reportError(error);
    }
  };
}
