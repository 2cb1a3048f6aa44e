import type { Command } from 'commander';
import { LocalFleet } from '../../local/local-fleet.js';
import { action } from '../common.js';
import { DEFAULT_DATA_DIR } from '../connection.js';
import { parsePort } from './server-command.js';

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start a control plane and a local fleet of agents from a fleet file (what `npm start` runs)')
    .option('--fleet <file>', 'fleet file', 'examples/fleet.yaml')
    .option('--data-dir <dir>', 'state of the control plane and the agents', DEFAULT_DATA_DIR)
    .option('--port <port>', 'control plane port', parsePort, 7700)
    .option('--no-example-job', 'do not submit the fleet file\'s example job on first start')
    .action(action(async (flags: { fleet: string; dataDir: string; port: number; exampleJob: boolean }) => {
      let stopping = false;
      const fleet = new LocalFleet({
        fleetFile: flags.fleet,
        dataDir: flags.dataDir,
        host: '127.0.0.1',
        port: flags.port,
        submitExample: flags.exampleJob,
        onChildExit: (name, code, signal) => {
          if (name === 'server') {
            process.stderr.write(`\nthe control plane exited (${signal ?? `code ${code}`}); see ${flags.dataDir}/logs/server.log. Stopping the fleet.\n`);
            stop(1);
          } else {
            process.stderr.write(`\nagent ${name} exited (${signal ?? `code ${code}`}); see ${flags.dataDir}/logs/${name}.log\n`);
          }
        },
      });
      const stop = (exitCode: number) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('\nstopping the agents and the control plane...\n');
        fleet.stop().then(
          () => {
            process.stdout.write('stopped.\n');
            process.exit(exitCode);
          },
          (error: unknown) => {
            process.stderr.write(`error while stopping: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      // Installed before anything starts, so Ctrl-C during start-up leaves nothing behind.
      process.on('SIGINT', () => stop(0));
      process.on('SIGTERM', () => stop(0));
      const info = await fleet.start();
      const job = info.exampleJobId ?? '<job>';
      const lines = [
        '',
        `${info.agents.length} nodes are up. The dashboard, signed in (this link works once, for 10 minutes; \`npx atoll dashboard\` prints another):`,
        `  ${info.dashboard}`,
        '  (its certificate is from the fleet\'s own CA, .atoll/ca.crt: trust that CA in your browser, or accept the warning for 127.0.0.1)',
        'In another terminal, from this directory:',
        '  npx atoll nodes                                   # the fleet',
        '  npx atoll run examples/jobs/hello.yaml --wait     # run a job with live progress',
        '  npx atoll jobs                                    # jobs, newest first',
        `  npx atoll tasks ${job}${' '.repeat(Math.max(1, 34 - job.length))}# where each task ran`,
        '  npx atoll logs <task>                             # a task\'s output',
        `The CLI finds the server and token in ${flags.dataDir}/. Press Ctrl-C to stop everything (state is kept).`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }));
}
