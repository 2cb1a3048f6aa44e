import { stringify } from 'yaml';
import { AtollError } from '../core/errors.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  throw new AtollError('invalid_request', `-o/--output: expected table, json or yaml, got ${JSON.stringify(value)}`);
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/** Plain aligned columns, like kubectl: no borders, two spaces apart. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** Prints a listing in the chosen format; JSON and YAML print the API objects unchanged. */
export function printListing<T>(format: OutputFormat, rows: readonly T[], columns: readonly Column<T>[], empty: string): void {
  if (format === 'json') return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  if (format === 'yaml') return void process.stdout.write(stringify(rows));
  process.stdout.write(rows.length === 0 ? `${empty}\n` : `${renderTable(rows, columns)}\n`);
}

export function printObject(format: OutputFormat, value: unknown, table: () => string): void {
  if (format === 'json') return void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  if (format === 'yaml') return void process.stdout.write(stringify(value));
  process.stdout.write(`${table()}\n`);
}

/** `3s`, `5m`, `2h`, `4d` since a time, for AGE columns. */
export function age(from: number | null, now = Date.now()): string {
  if (from === null) return '-';
  const s = Math.max(0, Math.round((now - from) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function dash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}
