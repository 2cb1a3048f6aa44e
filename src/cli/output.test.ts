import { describe, expect, it } from 'vitest';
import { AtollError } from '../core/errors.js';
import { age, dash, parseFormat, renderTable, type Column } from './output.js';

interface Row {
  readonly name: string;
  readonly state: string;
  readonly tasks: number;
}

const columns: readonly Column<Row>[] = [
  { header: 'NAME', value: (r) => r.name },
  { header: 'TASKS', value: (r) => String(r.tasks), right: true },
  { header: 'STATE', value: (r) => r.state },
];

describe('renderTable', () => {
  it('aligns columns two spaces apart, numbers to the right, no trailing spaces', () => {
    const rows: Row[] = [
      { name: 'hello', state: 'running', tasks: 3 },
      { name: 'a-much-longer-name', state: 'succeeded', tasks: 1200 },
    ];
    expect(renderTable(rows, columns)).toBe(
      [
        'NAME                TASKS  STATE',
        'hello                   3  running',
        'a-much-longer-name   1200  succeeded',
      ].join('\n'),
    );
  });

  it('widens a column to its header when the values are shorter', () => {
    const out = renderTable([{ name: 'x', state: 'ok', tasks: 1 }], columns);
    expect(out.split('\n')).toEqual(['NAME  TASKS  STATE', 'x         1  ok']);
  });

  it('prints only the header for no rows', () => {
    expect(renderTable([], columns)).toBe('NAME  TASKS  STATE');
  });

  it('does not pad the last column when it is left-aligned', () => {
    const out = renderTable(
      [{ name: 'a', state: 'x', tasks: 1 }, { name: 'b', state: 'longer-state', tasks: 2 }],
      columns,
    );
    for (const line of out.split('\n')) expect(line).toBe(line.trimEnd());
  });

  it('pads a right-aligned last column to its width', () => {
    const cols: Column<Row>[] = [
      { header: 'NAME', value: (r) => r.name },
      { header: 'N', value: (r) => String(r.tasks), right: true },
    ];
    const out = renderTable([{ name: 'a', state: '', tasks: 5 }, { name: 'b', state: '', tasks: 12345 }], cols);
    expect(out.split('\n')).toEqual(['NAME      N', 'a         5', 'b     12345']);
  });

  it('keeps every line the same width up to the last column', () => {
    const rows: Row[] = Array.from({ length: 5 }, (_, i) => ({ name: 'n'.repeat(i + 1), state: 's', tasks: 10 ** i }));
    const lines = renderTable(rows, columns).split('\n');
    const stateStart = lines[0]!.indexOf('STATE');
    for (const line of lines.slice(1)) expect(line.indexOf('s', stateStart - 1)).toBe(stateStart);
    const tasksEnd = lines[0]!.indexOf('TASKS') + 'TASKS'.length;
    for (const [i, line] of lines.slice(1).entries()) expect(line.slice(0, tasksEnd).endsWith(String(10 ** i))).toBe(true);
  });

  it('trims a trailing empty last cell', () => {
    const out = renderTable([{ name: 'a', state: '', tasks: 1 }], columns);
    expect(out.split('\n')[1]).toBe('a         1');
  });
});

describe('age', () => {
  const now = 1_000_000_000;
  it.each<{ ago: number; expected: string }>([
    { ago: 0, expected: '0s' },
    { ago: 400, expected: '0s' },
    { ago: 600, expected: '1s' },
    { ago: 3_000, expected: '3s' },
    { ago: 119_000, expected: '119s' },
    { ago: 120_000, expected: '2m' },
    { ago: 300_000, expected: '5m' },
    { ago: 7_199_000, expected: '120m' },
    { ago: 7_200_000, expected: '2h' },
    { ago: 172_799_000, expected: '48h' },
    { ago: 172_800_000, expected: '2d' },
    { ago: 4 * 86_400_000, expected: '4d' },
    { ago: 400 * 86_400_000, expected: '400d' },
    // Clock skew: a time in the future is not a negative age.
    { ago: -5_000, expected: '0s' },
  ])('$ago ms ago -> $expected', ({ ago, expected }) => {
    expect(age(now - ago, now)).toBe(expected);
  });

  it('prints a dash for no time', () => {
    expect(age(null, now)).toBe('-');
  });

  it('measures from the current time by default', () => {
    expect(age(Date.now() - 10 * 60_000)).toBe('10m');
  });
});

describe('dash', () => {
  it.each<{ value: string | number | null | undefined; expected: string }>([
    { value: null, expected: '-' },
    { value: undefined, expected: '-' },
    { value: '', expected: '-' },
    { value: 0, expected: '0' },
    { value: 'eu-west-1', expected: 'eu-west-1' },
    { value: 12.5, expected: '12.5' },
  ])('$value -> $expected', ({ value, expected }) => {
    expect(dash(value)).toBe(expected);
  });
});

describe('parseFormat', () => {
  it.each(['table', 'json', 'yaml'] as const)('accepts %s', (format) => {
    expect(parseFormat(format)).toBe(format);
  });

  it.each(['JSON', 'yml', '', 'wide'])('refuses %j with the choices', (value) => {
    expect(() => parseFormat(value)).toThrow(AtollError);
    expect(() => parseFormat(value)).toThrow(`-o/--output: expected table, json or yaml, got ${JSON.stringify(value)}`);
  });
});
