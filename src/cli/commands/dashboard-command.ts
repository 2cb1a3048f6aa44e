import type { Command } from 'commander';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { printObject } from '../output.js';

// `atoll dashboard`: a one-time link that signs a browser in to the dashboard as this CLI's token.

export function registerDashboardCommand(program: Command): void {
  withConnection(
    program.command('dashboard').description('print a one-time link that opens the web dashboard signed in as your token (good for 10 minutes, once)'),
  ).action(action(async (flags: CommonFlags) => {
    const client = clientFrom(flags);
    const link = await client.createSignInLink();
    const url = new URL(link.path, client.server).href;
    printObject(flags.output, { url, expiresAt: link.expiresAt }, () => `${url}\n(opens once, until ${new Date(link.expiresAt).toISOString()}; the browser then holds a 12-hour session of its own)`);
  }));
}
