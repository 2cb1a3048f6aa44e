import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { describeBudget, type BudgetStatus } from '../../core/budget.js';
import { AtollError } from '../../core/errors.js';
import { parseYamlDocument } from '../../core/yaml-document.js';
import type { PriceBook } from '../../core/price-book.js';
import { SPEND_GROUPS, type SpendReport, type SpendSummary } from '../../core/spend.js';
import { formatBytes } from '../../core/quantities.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { age, printObject, renderTable, type Column } from '../output.js';

// `atoll spend` (where the money went) and `atoll pricing` (the price book it is counted with).

/** Largest price book file read; the server refuses bodies over 1 MiB anyway. */
const MAX_BOOK_FILE_BYTES = 1024 * 1024;

/** Dollars with enough places to see what a short test run costs. */
export function formatDollars(value: number): string {
  // Two significant digits of a tiny amount, without an exponent: $0.0000051.
  if (value > 0 && value < 0.0001) return `$${value.toFixed(Math.min(20, 1 - Math.floor(Math.log10(value))))}`;
  return `$${value < 10 ? value.toFixed(4) : value.toFixed(2)}`;
}

/** The one-line cost of a job or a report. */
export function describeSpend(spend: SpendSummary): string {
  const moved = spend.transferBytes > 0 ? ` of ${formatBytes(spend.transferBytes)}` : '';
  const parts = [`${formatDollars(spend.total)} (${formatDollars(spend.compute)} compute + ${formatDollars(spend.transfer)} transfer${moved})`];
  if (spend.waste > 0) parts.push(`${formatDollars(spend.waste)} wasted on attempts that did not succeed`);
  if (spend.running > 0) parts.push(`${formatDollars(spend.running)} accrued by attempts still running`);
  return parts.join('; ');
}

type Row = SpendReport['rows'][number];
const columns = (by: string, perDay: boolean): readonly Column<Row>[] => [
  ...(perDay ? [{ header: 'DAY', value: (r: Row) => r.day ?? '' }] : []),
  { header: by.toUpperCase(), value: (r) => r.key || '(none)' },
  { header: 'TOTAL', value: (r) => formatDollars(r.total), right: true },
  { header: 'COMPUTE', value: (r) => formatDollars(r.compute), right: true },
  { header: 'TRANSFER', value: (r) => formatDollars(r.transfer), right: true },
  { header: 'BYTES MOVED', value: (r) => formatBytes(r.transferBytes), right: true },
  { header: 'WASTE', value: (r) => formatDollars(r.waste), right: true },
  { header: 'RUNNING', value: (r) => formatDollars(r.running), right: true },
];

const budgetColumns: readonly Column<BudgetStatus>[] = [
  { header: 'NAMESPACE', value: (b) => b.namespace },
  { header: 'MONTH', value: (b) => b.month },
  { header: 'SPENT', value: (b) => formatDollars(b.spent), right: true },
  { header: 'BUDGET', value: (b) => formatDollars(b.monthly), right: true },
  { header: 'USED', value: (b) => `${Math.floor(b.share * 100)}%`, right: true },
  { header: 'STATE', value: (b) => b.state },
  { header: 'POLICY', value: (b) => b.policy },
];

export function registerSpendCommands(program: Command): void {
  withConnection(
    program
      .command('spend')
      .description('what work has cost, from the price book: compute, transfers and waste')
      .option('--by <group>', `sum by ${SPEND_GROUPS.join(', ')}`, 'provider')
      .option('--since <duration>', 'only the last 7d, 12h, ... (default: everything)')
      .option('--per <period>', 'split each group by day (UTC): spend over time')
      .option('--namespace <ns>', 'only this namespace'),
  ).action(action(async (flags: CommonFlags & { by: string; since?: string; namespace?: string; per?: string }) => {
    if (!(SPEND_GROUPS as readonly string[]).includes(flags.by)) throw new AtollError('invalid_request', `--by: expected one of ${SPEND_GROUPS.join(', ')}, got ${JSON.stringify(flags.by)}`);
    if (flags.per !== undefined && flags.per !== 'day') throw new AtollError('invalid_request', `--per: expected day, got ${JSON.stringify(flags.per)}`);
    const client = clientFrom(flags);
    const [budgets, report] = await Promise.all([client.listBudgets(), client.spend({
      by: flags.by, ...(flags.since === undefined ? {} : { since: flags.since }), ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
      ...(flags.per === undefined ? {} : { per: flags.per }),
    })]);
    const shown = budgets.items.filter((b) => flags.namespace === undefined || b.namespace === flags.namespace);
    printObject(flags.output, { ...report, budgets: shown }, () => {
      const scope = [flags.since === undefined ? 'all time' : `the last ${flags.since}`, ...(flags.namespace === undefined ? [] : [`namespace ${flags.namespace}`])].join(', ');
      const lines = report.rows.length === 0
        ? [`Nothing spent (${scope}). Costs appear as attempts finish and data moves.`]
        : [`spend, ${scope}: ${describeSpend(report.total)}`, '', renderTable(report.rows, columns(flags.by, flags.per === 'day')).trimEnd()];
      if (shown.length > 0) lines.push('', renderTable(shown, budgetColumns).trimEnd());
      for (const budget of shown.filter((b) => b.state !== 'ok')) lines.push(`${budget.state === 'exceeded' ? 'exceeded' : 'warning'}: ${describeBudget(budget)}`);
      return lines.join('\n');
    });
  }));

  const pricing = program.command('pricing').description('the price book spend and cost-aware placement use');
  withConnection(pricing.command('show').description('the price book in force')).action(action(async (flags: CommonFlags) => {
    const current = await clientFrom(flags).getPriceBook();
    printObject(flags.output, current, () => [
      `price book ${current.updatedAt === 0 ? '(built-in list transfer prices)' : `applied ${age(current.updatedAt)} ago`}${current.book.asOf ? `, ${current.book.asOf}` : ''}`,
      '',
      stringify(current.book).trimEnd(),
    ].join('\n'));
  }));
  withConnection(pricing.command('apply').argument('<file>').description('put a price book (YAML or JSON) in force; placement uses it from the next round'))
    .action(action(async (file: string, flags: CommonFlags) => {
      const applied = await clientFrom(flags).setPriceBook(await readBook(file));
      printObject(flags.output, applied, () => `price book applied: ${applied.book.compute.length} compute rules, transfer prices for ${Object.keys(applied.book.transfer.providers).length} providers beyond the default`);
    }));
}

async function readBook(file: string): Promise<Partial<PriceBook>> {
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new AtollError('invalid_request', `cannot read ${file}: ${error.code ?? error.message}`);
  });
  if (bytes.length > MAX_BOOK_FILE_BYTES) throw new AtollError('payload_too_large', `${file} is larger than ${MAX_BOOK_FILE_BYTES} bytes`);
  return parseYamlDocument(bytes, { what: file, code: 'invalid_request' }) as Partial<PriceBook>;
}
