import { Command, CommanderError } from 'commander';
import { AGENT_VERSION } from '../agent/agent.js';
import { registerAgentCommand } from './commands/agent-command.js';
import { registerExplainCommand } from './commands/explain-command.js';
import { registerJobCommands } from './commands/jobs-command.js';
import { registerLogsCommand } from './commands/logs-command.js';
import { registerNodesCommands } from './commands/nodes-command.js';
import { registerJoinTokenCommands } from './commands/join-token-command.js';
import { registerPolicyCommands } from './commands/policy-command.js';
import { registerDataCommands } from './commands/data-command.js';
import { registerSpendCommands } from './commands/spend-command.js';
import { registerTokenCommands } from './commands/token-command.js';
import { registerAuditCommand } from './commands/audit-command.js';
import { registerDashboardCommand } from './commands/dashboard-command.js';
import { registerRunCommand } from './commands/run-command.js';
import { registerSchemaCommand } from './commands/schema-command.js';
import { registerServerCommand } from './commands/server-command.js';
import { registerUpCommand } from './commands/up-command.js';
import { reportError } from './common.js';

const program = new Command('atoll')
  .description('Run compute across many small nodes over providers, regions and edge sites, from one control plane.')
  .version(AGENT_VERSION)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerUpCommand(program);
registerServerCommand(program);
registerAgentCommand(program);
registerRunCommand(program);
registerJobCommands(program);
registerExplainCommand(program);
registerLogsCommand(program);
registerNodesCommands(program);
registerJoinTokenCommands(program);
registerPolicyCommands(program);
registerDataCommands(program);
registerSpendCommands(program);
registerTokenCommands(program);
registerAuditCommand(program);
registerDashboardCommand(program);
registerSchemaCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed its message (or the help/version text).
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    reportError(error);
  }
}
