import { AtollError, type FieldProblem } from './errors.js';
import { formatPath } from './field-path.js';

// Checks every document that arrives from outside (API bodies, spec and policy files, agent
// messages) before a schema sees it. Schemas (zod) recurse and assign keys, so the shape that
// could exhaust the stack or reach an object's prototype must be refused first, in one place.

/** Deepest nesting of lists and objects accepted; the deepest real spec is about 7. */
export const MAX_DOCUMENT_DEPTH = 32;
/** Keys that name or reach an object's prototype; refused at any depth, in any object. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** At most this many problems are listed: a hostile document must not make a huge error. */
const MAX_PROBLEMS = 20;
/** A UTF-16 surrogate without its pair: text that cannot be written as UTF-8 (String#isWellFormed is ES2024). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What is wrong with the document's shape: nesting deeper than MAX_DOCUMENT_DEPTH, reserved keys,
 * numbers that are not finite or past 2^53 (they would be stored as null or lose digits), and
 * strings that are not well-formed Unicode (lone surrogates). Walks without recursion.
 */
export function documentProblems(document: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const report = (at: Step | null, message: string) => problems.push({ path: formatPath(pathOf(at)), message });
  // Each entry's path is a linked list back to the root, so a wide document costs no path copies.
  const stack: { value: unknown; at: Step | null; depth: number }[] = [{ value: document, at: null, depth: 0 }];
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const { value, at, depth } = stack.pop()!;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) report(at, `expected a finite number, got ${String(value)}`);
      else if (Math.abs(value) > Number.MAX_SAFE_INTEGER) report(at, `expected a number of at most 2^53 in size, got ${value}`);
      continue;
    }
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) report(at, 'expected well-formed Unicode text, got a lone surrogate');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_DOCUMENT_DEPTH) {
      report(at, `nested deeper than the ${MAX_DOCUMENT_DEPTH} levels allowed`);
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) stack.push({ value: value[i], at: { key: i, parent: at }, depth: depth + 1 });
      continue;
    }
    if (!isPlainObject(value)) {
      // YAML 1.1 tags make dates, sets, maps and byte arrays; a spec holds JSON data only.
      report(at, `expected plain data (text, numbers, lists, objects), got ${describeObject(value)}`);
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i]!;
      const step = { key, parent: at };
      if (RESERVED_KEYS.has(key)) report(step, `"${key}" is a reserved key and cannot be used as a field or name`);
      else if (LONE_SURROGATE.test(key)) report(at, 'a key is not well-formed Unicode text (a lone surrogate)');
      else stack.push({ value: (value as Record<string, unknown>)[key], at: step, depth: depth + 1 });
    }
  }
  return problems;
}

/**
 * An object as JSON.parse or YAML build it, or a dictionary without a prototype: Object.prototype,
 * null, or an empty prototype-less object (the query-string parser's fast `new Empty()`).
 */
function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  return typeof proto === 'object' && Object.getPrototypeOf(proto) === null && Reflect.ownKeys(proto).length === 0;
}

interface Step {
  readonly key: string | number;
  readonly parent: Step | null;
}

function pathOf(step: Step | null): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at = step; at !== null; at = at.parent) path.unshift(at.key);
  return path;
}

function describeObject(value: object): string {
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with an unusual prototype';
}

/** Throws one AtollError listing the document's problems (see documentProblems); returns it unchanged when there are none. */
export function checkDocument<T>(document: T, what: string, code: 'invalid_spec' | 'invalid_request' = 'invalid_request'): T {
  const problems = documentProblems(document);
  if (problems.length === 0) return document;
  const lines = problems.map((p) => `  ${p.path === '' ? '(top level)' : p.path}: ${p.message}`);
  throw new AtollError(code, `invalid ${what}:\n${lines.join('\n')}`, { problems });
}
