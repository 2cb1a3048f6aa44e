import type { Command } from 'commander';
import { startLocalFleet } from '../../local/local-fleet.js';
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
      const fleet = await startLocalFleet({
        fleetFile: flags.fleet,
        dataDir: flags.dataDir,
        host: '127.0.0.1',
        port: flags.port,
        submitExample: flags.exampleJob,
      });
      const lines = [
        '',
        `${fleet.agents.size} nodes are up. In another terminal, from this directory:`,
        '  npx atoll nodes                                   # the fleet',
        '  npx atoll run examples/jobs/hello.yaml --wait     # run a job with live progress',
        '  npx atoll jobs                                    # jobs, newest first',
        `  npx atoll tasks ${fleet.exampleJobId ?? '<job>'}${' '.repeat(Math.max(1, 34 - (fleet.exampleJobId ?? '<job>').length))}# where each task ran`,
        '  npx atoll logs <task>                             # a task\'s output',
        `The CLI finds the server and token in ${flags.dataDir}/. Press Ctrl-C to stop everything (state is kept).`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('\nstopping the agents and the control plane...\n');
        fleet.stop().then(
          () => {
            process.stdout.write('stopped.\n');
            process.exit(0);
          },
          (error: unknown) => {
            process.stderr.write(`error while stopping: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }));
}
