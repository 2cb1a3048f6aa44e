import type { z } from 'zod';
import { documentProblems } from './document-limits.js';
import { AtollError, type FieldProblem } from './errors.js';
import { formatPath } from './field-path.js';

export { formatPath };

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${typeof value} ${String(value)}`;
}

function describeIssue(issue: z.core.$ZodIssue): FieldProblem[] {
  const path = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  const required = (issue.code === 'invalid_type' || issue.code === 'invalid_union') && input === undefined;
  if (required && issue.message.startsWith('Invalid input')) return [{ path, message: 'missing; this field is required' }];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: 'unknown field; remove it or check its spelling',
      }));
    case 'invalid_type': {
      // A schema may carry its own wording (`expected a list of arguments like [...]`); keep it.
      const expected = issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
      return [{ path, message: `${expected}, got ${describeValue(input)}` }];
    }
    case 'invalid_key':
      return [{ path, message: `${issue.issues.map((i) => i.message).join('; ')}, got ${describeValue(input)}` }];
    case 'invalid_value':
      return [{ path, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}` }];
    case 'invalid_union':
      return [{ path, message: `${issue.message}, got ${describeValue(input)}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** Parse with a zod schema; on failure throw one AtollError listing every problem with its path. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  code: 'invalid_spec' | 'invalid_request' = 'invalid_request',
): z.output<S> {
  // The shape first: zod recurses into nesting and lets a record's `__proto__` key vanish.
  const shape = documentProblems(value);
  const result = shape.length > 0 ? undefined : schema.safeParse(value, { reportInput: true });
  if (result?.success) return result.data;
  const problems = result === undefined ? shape : result.error.issues.flatMap(describeIssue);
  const lines = problems.map((p) => `  ${p.path === '' ? '(top level)' : p.path}: ${p.message}`);
  throw new AtollError(code, `invalid ${what}:\n${lines.join('\n')}`, { problems });
}
