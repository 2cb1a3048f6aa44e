import fc from 'fast-check';

// Generators of hostile documents shared by the fuzz tests of the spec parser and the API:
// mutations of a valid job spec with one field replaced by something an attacker would send,
// and raw texts that stress the parser itself. Sizes stay small so a run is quick.

export const validJobSpec = {
  name: 'fuzz',
  tasks: 2,
  command: ['sh', '-c', 'echo hi'],
  env: { GREETING: 'hello' },
  resources: { cpu: '0.5', memory: '64Mi' },
  retry: { attempts: 1, backoff: '1s' },
  timeout: '1m',
  placement: { require: [{ key: 'region', operator: 'In', values: ['eu-west'] }] },
} as const;

/** Where in validJobSpec a mutation lands: every level, objects and lists, existing and new fields. */
const MUTATION_PATHS: readonly (readonly (string | number)[])[] = [
  [], ['name'], ['tasks'], ['command'], ['command', 0], ['command', 5], ['env'], ['env', 'GREETING'], ['env', '__proto__'], ['env', 'constructor'],
  ['resources'], ['resources', 'cpu'], ['resources', 'memory'], ['retry', 'attempts'], ['retry', 'backoff'], ['timeout'], ['killGrace'],
  ['placement'], ['placement', 'require', 0, 'values'], ['placement', 'require', 0, 'operator'], ['stages'], ['namespace'], ['__proto__'], ['constructor'], ['prototype'], ['inputs'], ['forEach'],
];

/** Values that have broken parsers elsewhere: overflow, negative zero, prototype keys, lone surrogates, huge text. */
const hostileLeaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    1e308, -1e308, -0, 2 ** 60, Number.MAX_SAFE_INTEGER + 2, 0.1, -1, 1.5,
    '1e400', 'NaN', 'Infinity', '-0', `${'9'.repeat(400)}s`, `${'9'.repeat(400)}`, `${'9'.repeat(30)}d`, '0x10', ' 1 ',
    '__proto__', 'constructor', '\ud800', '\udc00x', '\u0000', '', 'x'.repeat(5000), '${HOME}', '../../etc/passwd',
    null, true, [], {}, [[[[[[]]]]]],
    JSON.parse('{"__proto__":{"polluted":"yes"}}'), JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'), JSON.parse('{"prototype":{"polluted":"yes"}}'),
  ),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A deep copy of `value` with `leaf` at `path`; keys are defined, never assigned, so `__proto__` stays an own key. */
function withLeaf(value: unknown, path: readonly (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const base: Record<string, unknown> | unknown[] =
    Array.isArray(value) ? [...value] : typeof value === 'object' && value !== null ? { ...(value as Record<string, unknown>) } : typeof head === 'number' ? [] : {};
  const current = Object.prototype.hasOwnProperty.call(base, head) ? (base as Record<string | number, unknown>)[head] : undefined;
  Object.defineProperty(base, head, { value: withLeaf(current, rest, leaf), enumerable: true, writable: true, configurable: true });
  return base;
}

/** The valid spec with one to three fields replaced by hostile values. */
export const hostileValue: fc.Arbitrary<unknown> = fc
  .array(fc.tuple(fc.constantFrom(...MUTATION_PATHS), hostileLeaf), { minLength: 1, maxLength: 3 })
  .map((mutations) => mutations.reduce<unknown>((spec, [path, leaf]) => withLeaf(spec, path, leaf), validJobSpec));

/** Texts that attack the JSON or YAML parser rather than the schema. */
export const hostileJsonTexts: readonly string[] = [
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"name":"a","command":["x"],"env":{"prototype":"x"}}',
  '['.repeat(5000) + ']'.repeat(5000),
  '{"a":'.repeat(2000) + '1' + '}'.repeat(2000),
  '{"name":"a","command":["x"],"tasks":1e400}',
  '{"name":"a","command":["x"],"tasks":-0}',
  '{"name":"a","command":["x"],"tasks":1152921504606846976}',
  '{"name":"\\ud800","command":["x"]}',
  '{"name":"a","name":"b","command":["x"]}',
  '\ufeff{"name":"a","command":["x"]}',
  '{"name":"a","command":["x"]}garbage',
  '', ' ', 'null', 'true', '"x"', '[]', '{',
];

/** YAML that attacks the YAML reader: alias bombs, deep nesting, duplicate keys, YAML 1.1 tags. */
export const hostileYamlTexts: readonly string[] = [
  ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n'),
  'a: &a [x]\nb: *a\nc: *zz',
  '['.repeat(3000) + ']'.repeat(3000),
  '- '.repeat(3000) + 'x',
  Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'),
  'name: a\nname: b\ncommand: [x]',
  '%YAML 1.1\n---\nname: !!binary aGVsbG8=\ncommand: [x]',
  '%YAML 1.1\n---\nname: 2001-12-14\ncommand: [x]',
  'name: a\ncommand: [x]\nenv: {__proto__: {polluted: yes}}',
  'name: a\ncommand: [x]\n<<: {tasks: 2}',
  'name: a\ncommand: [x]\n---\nname: b\ncommand: [y]',
  'name: a\ncommand: [x]\ntasks: .inf',
  'name: a\ncommand: [x]\ntasks: .nan',
  'name: a\ncommand: [x]\ntasks: 1e400',
  'name: !!js/function "function () {}"\ncommand: [x]',
];
