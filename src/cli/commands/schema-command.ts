import type { Command } from 'commander';
import { AtollError } from '../../core/errors.js';
import { jobSpecJsonSchema } from '../../core/job-spec.js';
import { action } from '../common.js';

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .argument('<kind>', 'what to print the JSON Schema of: job')
    .description('print a JSON Schema for editor completion (e.g. yaml-language-server)')
    .action(action(async (kind: string) => {
      if (kind !== 'job') throw new AtollError('invalid_request', `schema: expected "job", got ${JSON.stringify(kind)}`);
      process.stdout.write(`${JSON.stringify({ title: 'Atoll job spec', ...jobSpecJsonSchema() }, null, 2)}\n`);
    }));
}
