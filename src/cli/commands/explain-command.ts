import type { Command } from 'commander';
import type { TaskExplanation } from '../../client/client.js';
import type { NodeRecord } from '../../core/types.js';
import type { CandidateScore, ScoreBreakdown } from '../../scheduler/engine.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { printObject } from '../output.js';

// `atoll explain TASK`: why a task runs where it runs, or why it waits.

export function registerExplainCommand(program: Command): void {
  withConnection(program.command('explain').argument('<task>').description('why a task was placed on its node, or why it is still waiting'))
    .action(action(async (id: string, flags: CommonFlags) => {
      const client = clientFrom(flags);
      const [explained, nodes] = await Promise.all([client.explainTask(id), client.listNodes()]);
      printObject(flags.output, explained, () => renderExplanation(explained, new Map(nodes.items.map((n) => [n.name, n]))));
    }));
}

/** The placement story of one task, as lines for a terminal. */
export function renderExplanation(explained: TaskExplanation, nodes: ReadonlyMap<string, NodeRecord>): string {
  const e = explained.explanation;
  if (e === null) {
    if (explained.waiting !== null) return `${explained.taskId} is waiting: ${explained.waiting}`;
    return `${explained.taskId} has not been considered for placement yet`;
  }
  const where = (name: string) => {
    const node = nodes.get(name);
    if (node === undefined) return name;
    return `${name} (${[node.jurisdiction ?? 'no jurisdiction', node.provider, node.region, node.site].filter((p) => p !== '').join(', ')})`;
  };
  const lines = [
    `${explained.taskId} was placed on ${where(e.chosen.node)}`,
    `  ${e.feasible} of ${e.nodes} nodes could take it${e.rejectedSummary === '' ? '' : `; turned down: ${e.rejectedSummary}`}`,
  ];
  if (e.spread !== undefined) {
    const s = e.spread;
    lines.push(`  spread across ${s.across}: ${s.domain || '(none)'} had ${s.domainCount} of the job's tasks, the least used of ${s.openDomains} open had ${s.leastCount} (maxSkew ${s.maxSkew})`);
  }
  lines.push('', '  candidates (score = sum of weight x normalised score):');
  for (const [i, c] of e.candidates.entries()) lines.push(...renderCandidate(c, i === 0 ? 'chosen' : 'runner-up', where));
  if (e.rejected.length > 0) {
    lines.push('', '  examples of nodes turned down:');
    for (const r of e.rejected) lines.push(`    ${r.node}: ${r.message} [${r.plugin}]`);
  }
  return lines.join('\n');
}

function renderCandidate(candidate: CandidateScore, label: string, where: (name: string) => string): string[] {
  const lines = [`    ${label.padEnd(9)} ${candidate.total.toFixed(1).padStart(7)}  ${where(candidate.node)}`];
  for (const score of candidate.scores) lines.push(`              ${describeScore(score)}`);
  return lines;
}

function describeScore(s: ScoreBreakdown): string {
  const scored = `${s.plugin.padEnd(9)} ${s.normalized.toFixed(0).padStart(3)} x ${String(s.weight).padEnd(4)} = ${s.weighted.toFixed(1).padStart(6)}`;
  return s.detail === undefined ? scored : `${scored}  ${s.detail}`;
}
