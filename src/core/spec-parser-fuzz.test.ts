import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { documentProblems } from './document-limits.js';
import { AtollError } from './errors.js';
import { parseJobSpec } from './job-spec.js';
import { parsePolicySpec } from './policy-spec.js';
import { parsePriceBook } from './price-book.js';
import { hostileJsonTexts, hostileValue, hostileYamlTexts, validJobSpec } from './testing/hostile-values.js';
import { parseYamlDocument } from './yaml-document.js';

// Property: the spec parsers (YAML or JSON text, then the job spec, policy and price book
// schemas) either accept a document or throw an AtollError that lists at least one problem or
// says what is wrong; nothing else escapes, nothing hangs (inputs are bounded), and
// Object.prototype is never touched.

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const parsers = [parseJobSpec, parsePolicySpec, parsePriceBook] as const;

/** Runs `parse`; returns the refusal, or undefined when it accepted. Anything but an AtollError fails the test. */
function refusalOf(parse: () => unknown): AtollError | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    if (!(error instanceof AtollError)) throw new Error(`threw something other than an AtollError: ${String(error)}`, { cause: error });
    expect(['invalid_spec', 'invalid_request']).toContain(error.code);
    expect(error.message.length).toBeGreaterThan(0);
    return error;
  }
}

afterAll(() => {
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

describe('spec parsers under generated input', () => {
  it('accept the unmutated spec, so the properties below start from something valid', () => {
    expect(parseJobSpec(validJobSpec).stages[0]!.tasks).toBe(2);
  });

  it('refuse mutated job specs only with AtollErrors that name a field', () => {
    fc.assert(
      fc.property(hostileValue, (value) => {
        const refusal = refusalOf(() => parseJobSpec(value));
        if (refusal !== undefined) expect(refusal.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuse arbitrary JSON values in every parser only with AtollErrors', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(...parsers), (value, parse) => {
        refusalOf(() => parse(value));
      }),
      { numRuns: RUNS },
    );
  });

  it('read arbitrary and hostile text as YAML or JSON only with AtollErrors', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom(...hostileJsonTexts, ...hostileYamlTexts),
      hostileValue.map((v) => JSON.stringify(v)),
      // YAML the yaml package writes for a hostile document, so anchors, tags and quoting vary.
      hostileValue.map((v) => stringify(v)),
    );
    fc.assert(
      fc.property(text, (source) => {
        let document: unknown;
        const refusal = refusalOf(() => (document = parseYamlDocument(source, { what: 'job spec' })));
        if (refusal === undefined) refusalOf(() => parseJobSpec(document));
      }),
      { numRuns: RUNS },
    );
  });

  it('read arbitrary bytes only with AtollErrors, refusing those that are not UTF-8', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const refusal = refusalOf(() => parseYamlDocument(bytes, { what: 'job spec' }));
        let utf8 = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          // The oracle: these bytes are not UTF-8, so the reader must have said so.
          utf8 = false;
        }
        if (!utf8) expect(refusal?.message).toBe('job spec is not valid UTF-8 text');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('hostile documents, one by one', () => {
  it.each<{ what: string; text: string; message: RegExp }>([
    { what: 'a billion-laughs alias bomb', text: hostileYamlTexts[0]!, message: /alias/i },
    { what: 'flow nesting 3000 deep', text: '['.repeat(3000) + ']'.repeat(3000), message: /deeper than the 32 levels/ },
    { what: 'block nesting 200 deep', text: Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'), message: /deeper than the 32 levels/ },
    { what: 'a __proto__ key', text: 'name: a\ncommand: [x]\nenv: {__proto__: {polluted: yes}}', message: /env\.__proto__: "__proto__" is a reserved key/ },
    { what: 'a constructor key', text: 'name: a\ncommand: [x]\nconstructor: {prototype: {polluted: yes}}', message: /constructor: "constructor" is a reserved key/ },
    { what: 'a prototype key', text: 'name: a\ncommand: [x]\nenv: {prototype: x}', message: /env\.prototype: "prototype" is a reserved key/ },
    { what: 'an infinite number', text: 'name: a\ncommand: [x]\ntasks: 1e400', message: /tasks: expected a finite number, got Infinity/ },
    { what: '.nan', text: 'name: a\ncommand: [x]\ntasks: .nan', message: /tasks: expected a finite number, got NaN/ },
    { what: 'an integer past 2^53', text: `name: a\ncommand: [x]\ntasks: ${2 ** 60}`, message: /tasks: expected a number of at most 2\^53/ },
    { what: 'a YAML 1.1 binary', text: '%YAML 1.1\n---\nname: !!binary aGVsbG8=\ncommand: [x]', message: /name: expected plain data/ },
    { what: 'duplicate keys', text: 'name: a\nname: b\ncommand: [x]', message: /unique/ },
    { what: 'two documents', text: 'name: a\ncommand: [x]\n---\nname: b\ncommand: [y]', message: /2 documents/ },
  ])('refuses $what with a message naming it', ({ text, message }) => {
    expect(() => parseYamlDocument(text, { what: 'job spec' })).toThrow(message);
  });

  it('refuses bytes that are not UTF-8 instead of replacing them', () => {
    expect(() => parseYamlDocument(Buffer.from('name: caf\xe9\ncommand: [x]', 'latin1'), { what: 'job spec' })).toThrow(/job spec is not valid UTF-8/);
  });

  it('refuses text over 1 MiB before parsing it', () => {
    expect(() => parseYamlDocument(`# ${'x'.repeat(1024 * 1024)}`, { what: 'job spec' })).toThrow(/larger than the 1 MiB allowed/);
  });

  it.each<{ what: string; value: unknown; path: string }>([
    { what: '-0 tasks', value: { ...validJobSpec, tasks: -0 }, path: 'tasks' },
    { what: 'NaN-producing cpu', value: { ...validJobSpec, resources: { cpu: '9'.repeat(400) } }, path: 'resources.cpu' },
    { what: 'an overflowing backoff', value: { ...validJobSpec, retry: { backoff: `${'9'.repeat(400)}s` } }, path: 'retry.backoff' },
    { what: 'an env __proto__ given as an own key', value: { ...validJobSpec, env: JSON.parse('{"__proto__":"x"}') }, path: 'env.__proto__' },
  ])('parseJobSpec refuses $what naming $path', ({ value, path }) => {
    const refusal = refusalOf(() => parseJobSpec(value));
    expect(refusal?.problems.map((p) => p.path)).toContain(path);
  });
});

describe('what counts as plain data', () => {
  it('accepts objects without a prototype, as query-string parsers build them', () => {
    function Empty(): void {}
    Empty.prototype = Object.create(null) as object;
    const query = new (Empty as unknown as new () => Record<string, string>)();
    query['limit'] = '5';
    expect(documentProblems(query)).toEqual([]);
    expect(documentProblems(Object.assign(Object.create(null) as object, { a: 1 }))).toEqual([]);
  });

  it('refuses dates, maps and byte arrays', () => {
    expect(documentProblems({ a: new Date(0), b: new Map(), c: new Uint8Array(1) }).map((p) => p.path)).toEqual(['a', 'b', 'c']);
  });
});
