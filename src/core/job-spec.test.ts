import { describe, expect, it } from 'vitest';
import { AtollError, type FieldProblem } from './errors.js';
import {
  DEFAULT_CPU_MILLIS,
  DEFAULT_MEMORY_BYTES,
  jobSpecJsonSchema,
  MAX_TASKS_PER_JOB,
  parseJobSpec,
  type JobSpecInput,
} from './job-spec.js';
import { formatPath } from './validation.js';

const minimal = { name: 'hello', command: ['echo', 'hello'] } as const;

/** The minimal valid spec with `patch` merged in at the top level. */
function spec(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...minimal, ...patch };
}

/** Parses and returns the thrown AtollError; fails the test when the spec is accepted. */
function refusal(value: unknown): AtollError {
  try {
    parseJobSpec(value);
  } catch (error) {
    expect(error).toBeInstanceOf(AtollError);
    return error as AtollError;
  }
  throw new Error(`expected the spec to be refused: ${JSON.stringify(value)}`);
}

function paths(problems: readonly FieldProblem[]): string[] {
  return problems.map((p) => p.path).sort();
}

describe('parseJobSpec: defaults', () => {
  it('fills every default for the minimal spec', () => {
    expect(parseJobSpec(minimal)).toEqual({
      name: 'hello',
      namespace: 'default',
      tasks: 1,
      command: ['echo', 'hello'],
      env: {},
      resources: { cpu: DEFAULT_CPU_MILLIS, memory: DEFAULT_MEMORY_BYTES },
      constraints: [],
      retry: { attempts: 0, backoff: 1000 },
      killGrace: 5000,
    });
  });

  it('has no timeout unless one is given', () => {
    expect(parseJobSpec(minimal).timeout).toBeUndefined();
    expect(parseJobSpec(spec({ timeout: '5m' })).timeout).toBe(300_000);
  });

  it('defaults each resource separately', () => {
    expect(parseJobSpec(spec({ resources: { cpu: 2 } })).resources).toEqual({ cpu: 2000, memory: DEFAULT_MEMORY_BYTES });
    expect(parseJobSpec(spec({ resources: { memory: '1Gi' } })).resources).toEqual({ cpu: DEFAULT_CPU_MILLIS, memory: 2 ** 30 });
    expect(parseJobSpec(spec({ resources: {} })).resources).toEqual({ cpu: DEFAULT_CPU_MILLIS, memory: DEFAULT_MEMORY_BYTES });
  });

  it('defaults retry fields separately', () => {
    expect(parseJobSpec(spec({ retry: { attempts: 3 } })).retry).toEqual({ attempts: 3, backoff: 1000 });
    expect(parseJobSpec(spec({ retry: { backoff: '10s' } })).retry).toEqual({ attempts: 0, backoff: 10_000 });
  });

  it.each<{ name: string; input: Record<string, unknown>; expected: Record<string, unknown> }>([
    { name: 'cpu in cores', input: { resources: { cpu: 0.5 } }, expected: { resources: { cpu: 500, memory: DEFAULT_MEMORY_BYTES } } },
    { name: 'cpu in millicores', input: { resources: { cpu: '250m' } }, expected: { resources: { cpu: 250, memory: DEFAULT_MEMORY_BYTES } } },
    { name: 'memory as a plain number', input: { resources: { memory: 1_000_000 } }, expected: { resources: { cpu: DEFAULT_CPU_MILLIS, memory: 1_000_000 } } },
    { name: 'retry backoff as a duration', input: { retry: { attempts: 2, backoff: '1m' } }, expected: { retry: { attempts: 2, backoff: 60_000 } } },
    { name: 'killGrace as a duration', input: { killGrace: '30s' }, expected: { killGrace: 30_000 } },
    { name: 'killGrace of zero', input: { killGrace: 0 }, expected: { killGrace: 0 } },
    { name: 'composite timeout', input: { timeout: '1h30m' }, expected: { timeout: 5_400_000 } },
    { name: 'most tasks', input: { tasks: MAX_TASKS_PER_JOB }, expected: { tasks: MAX_TASKS_PER_JOB } },
    { name: 'env', input: { env: { MY_VAR: 'x', _under: '' } }, expected: { env: { MY_VAR: 'x', _under: '' } } },
    { name: 'namespace', input: { namespace: 'team-a' }, expected: { namespace: 'team-a' } },
    {
      name: 'constraints',
      input: { constraints: [{ key: 'tier', operator: 'In', values: ['gold'] }, { key: 'gpu', operator: 'Exists' }] },
      expected: { constraints: [{ key: 'tier', operator: 'In', values: ['gold'] }, { key: 'gpu', operator: 'Exists' }] },
    },
  ])('normalises $name', ({ input, expected }) => {
    expect(parseJobSpec(spec(input))).toMatchObject(expected);
  });

  it('accepts the JobSpecInput type for specs written in code', () => {
    const input: JobSpecInput = { name: 'typed', command: ['true'], resources: { cpu: '1', memory: '1Gi' } };
    expect(parseJobSpec(input).resources).toEqual({ cpu: 1000, memory: 2 ** 30 });
  });
});

describe('parseJobSpec: refusals name the field', () => {
  it.each<{ name: string; input: unknown; path: string; message: string | RegExp }>([
    { name: 'unknown top-level field', input: spec({ replicas: 3 }), path: 'replicas', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown nested field', input: spec({ resources: { cpu: 1, foo: 2 } }), path: 'resources.foo', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown retry field', input: spec({ retry: { attempts: 1, delay: '1s' } }), path: 'retry.delay', message: /unknown field/ },
    { name: 'unknown constraint field', input: spec({ constraints: [{ key: 'a', operator: 'Exists', value: 'x' }] }), path: 'constraints[0].value', message: /unknown field/ },
    { name: 'memory is not a size', input: spec({ resources: { memory: 'lots' } }), path: 'resources.memory', message: 'expected a size like 512Mi, got "lots"' },
    { name: 'memory is negative', input: spec({ resources: { memory: -1 } }), path: 'resources.memory', message: 'expected a size like 512Mi, got -1' },
    { name: 'memory is zero', input: spec({ resources: { memory: 0 } }), path: 'resources.memory', message: 'memory must be more than 0' },
    { name: 'memory is malformed', input: spec({ resources: { memory: '1.5.5Gi' } }), path: 'resources.memory', message: 'expected a size like 512Mi, got "1.5.5Gi"' },
    { name: 'memory is a boolean', input: spec({ resources: { memory: true } }), path: 'resources.memory', message: /.+/ },
    { name: 'cpu is not a number of cores', input: spec({ resources: { cpu: 'fast' } }), path: 'resources.cpu', message: 'expected a number of cores like 0.5 or 500m, got "fast"' },
    { name: 'cpu is zero', input: spec({ resources: { cpu: 0 } }), path: 'resources.cpu', message: 'cpu must be more than 0' },
    { name: 'cpu rounds to zero', input: spec({ resources: { cpu: 0.0001 } }), path: 'resources.cpu', message: 'cpu must be more than 0' },
    { name: 'cpu is huge', input: spec({ resources: { cpu: 2000 } }), path: 'resources.cpu', message: /<=1024000/ },
    { name: 'command is a string', input: spec({ command: 'echo hello' }), path: 'command', message: 'expected a list of arguments like ["echo", "hello"], got "echo hello"' },
    { name: 'command is missing', input: { name: 'hello' }, path: 'command', message: 'expected a list of arguments like ["echo", "hello"], got nothing' },
    { name: 'command is empty', input: spec({ command: [] }), path: 'command', message: 'expected at least the program to run' },
    { name: 'command has an empty argument', input: spec({ command: ['echo', ''] }), path: 'command[1]', message: /expected string to have >=1 characters/ },
    { name: 'command has a number', input: spec({ command: ['sleep', 5] }), path: 'command[1]', message: 'expected string, got number 5' },
    { name: 'name is missing', input: { command: ['true'] }, path: 'name', message: 'missing; this field is required' },
    { name: 'name has capitals', input: spec({ name: 'Hello' }), path: 'name', message: /lowercase letters, digits and dashes/ },
    { name: 'name ends with a dash', input: spec({ name: 'hello-' }), path: 'name', message: /like "my-job"/ },
    { name: 'name is too long', input: spec({ name: 'a'.repeat(64) }), path: 'name', message: /at most 63/ },
    { name: 'namespace has an underscore', input: spec({ namespace: 'team_a' }), path: 'namespace', message: /namespace of lowercase letters/ },
    { name: 'no tasks', input: spec({ tasks: 0 }), path: 'tasks', message: /expected number to be >=1/ },
    { name: 'too many tasks', input: spec({ tasks: MAX_TASKS_PER_JOB + 1 }), path: 'tasks', message: /expected number to be <=100000/ },
    { name: 'fractional tasks', input: spec({ tasks: 1.5 }), path: 'tasks', message: 'expected int, got number 1.5' },
    { name: 'tasks as a string', input: spec({ tasks: '3' }), path: 'tasks', message: 'expected number, got "3"' },
    { name: 'In without values', input: spec({ constraints: [{ key: 'tier', operator: 'In' }] }), path: 'constraints[0].values', message: 'operator In needs a non-empty list of values' },
    { name: 'NotIn with empty values', input: spec({ constraints: [{ key: 'tier', operator: 'NotIn', values: [] }] }), path: 'constraints[0].values', message: 'operator NotIn needs a non-empty list of values' },
    { name: 'Exists with values', input: spec({ constraints: [{ key: 'gpu', operator: 'Exists', values: ['a'] }] }), path: 'constraints[0].values', message: 'operator Exists takes no values' },
    { name: 'DoesNotExist with values', input: spec({ constraints: [{ key: 'gpu', operator: 'Exists' }, { key: 'spot', operator: 'DoesNotExist', values: [] }] }), path: 'constraints[1].values', message: 'operator DoesNotExist takes no values' },
    { name: 'unknown operator', input: spec({ constraints: [{ key: 'tier', operator: 'Like', values: ['g'] }] }), path: 'constraints[0].operator', message: 'expected one of "In", "NotIn", "Exists", "DoesNotExist", got "Like"' },
    { name: 'empty constraint key', input: spec({ constraints: [{ key: '', operator: 'Exists' }] }), path: 'constraints[0].key', message: /.+/ },
    { name: 'env key starts with a digit', input: spec({ env: { '1BAD': 'x' } }), path: 'env.1BAD', message: 'expected an environment variable name like MY_VAR, got "1BAD"' },
    { name: 'env key has a dash', input: spec({ env: { 'MY-VAR': 'x' } }), path: 'env.MY-VAR', message: 'expected an environment variable name like MY_VAR, got "MY-VAR"' },
    { name: 'env value is a number', input: spec({ env: { PORT: 8080 } }), path: 'env.PORT', message: 'expected string, got number 8080' },
    { name: 'retry attempts negative', input: spec({ retry: { attempts: -1 } }), path: 'retry.attempts', message: /expected number to be >=0/ },
    { name: 'retry attempts too many', input: spec({ retry: { attempts: 51 } }), path: 'retry.attempts', message: /expected number to be <=50/ },
    { name: 'retry backoff is not a duration', input: spec({ retry: { backoff: 'soon' } }), path: 'retry.backoff', message: 'expected a duration like 30s, 5m or 1h, got "soon"' },
    { name: 'retry backoff is negative', input: spec({ retry: { backoff: '-1s' } }), path: 'retry.backoff', message: 'expected a duration like 30s, 5m or 1h, got "-1s"' },
    { name: 'timeout in words', input: spec({ timeout: '5 minutes' }), path: 'timeout', message: 'expected a duration like 30s, 5m or 1h, got "5 minutes"' },
    { name: 'timeout without a unit', input: spec({ timeout: '30' }), path: 'timeout', message: 'expected a duration like 30s, 5m or 1h, got "30"' },
    { name: 'killGrace negative', input: spec({ killGrace: -5 }), path: 'killGrace', message: 'expected a duration like 30s, 5m or 1h, got -5' },
    { name: 'resources is a list', input: spec({ resources: [1] }), path: 'resources', message: 'expected object, got a list' },
    { name: 'spec is null', input: null, path: '', message: 'expected object, got null' },
    { name: 'spec is a string', input: 'name: hello', path: '', message: 'expected object, got "name: hello"' },
  ])('$name', ({ input, path, message }) => {
    const error = refusal(input);
    expect(error.code).toBe('invalid_spec');
    const problem = error.problems.find((p) => p.path === path);
    expect(problem, `problems: ${JSON.stringify(error.problems)}`).toBeDefined();
    if (typeof message === 'string') expect(problem?.message).toBe(message);
    else expect(problem?.message).toMatch(message);
    // The printed message carries the path and the problem, so a CLI user sees both.
    expect(error.message).toContain(path === '' ? '(top level)' : `${path}: `);
    expect(error.message).toContain(problem?.message);
  });

  it('reports the memory problem in the message a user sees', () => {
    const error = refusal(spec({ resources: { memory: 'lots' } }));
    expect(error.message).toBe('invalid job spec:\n  resources.memory: expected a size like 512Mi, got "lots"');
    expect(error.problems).toEqual([{ path: 'resources.memory', message: 'expected a size like 512Mi, got "lots"' }]);
  });

  it('lists every problem, not just the first', () => {
    const error = refusal({ name: 'Bad', command: 'x', tasks: 0, oops: 1, resources: { memory: 'lots', foo: 1 } });
    expect(paths(error.problems)).toEqual(['command', 'name', 'oops', 'resources.foo', 'resources.memory', 'tasks']);
    for (const line of error.message.split('\n').slice(1)) expect(line).toMatch(/^ {2}\S+: .+/);
  });

  it('names every unknown key separately at the same level', () => {
    const error = refusal(spec({ a: 1, b: 2 }));
    expect(paths(error.problems)).toEqual(['a', 'b']);
  });

  it('reports the constraint index of the bad requirement only', () => {
    const error = refusal(spec({
      constraints: [
        { key: 'tier', operator: 'In', values: ['gold'] },
        { key: 'gpu', operator: 'Exists' },
        { key: 'zone', operator: 'In' },
      ],
    }));
    expect(paths(error.problems)).toEqual(['constraints[2].values']);
  });

  it('names every bad env key with what a good one looks like', () => {
    const error = refusal(spec({ env: { GOOD: 'x', '1BAD': 'y', 'NO SPACE': 'z' } }));
    expect(error.problems).toEqual([
      { path: 'env.1BAD', message: 'expected an environment variable name like MY_VAR, got "1BAD"' },
      { path: 'env.NO SPACE', message: 'expected an environment variable name like MY_VAR, got "NO SPACE"' },
    ]);
  });
});

describe('formatPath', () => {
  it.each<{ path: PropertyKey[]; expected: string }>([
    { path: [], expected: '' },
    { path: ['name'], expected: 'name' },
    { path: ['resources', 'memory'], expected: 'resources.memory' },
    { path: ['constraints', 0, 'operator'], expected: 'constraints[0].operator' },
    { path: ['command', 3], expected: 'command[3]' },
    { path: [0, 'x'], expected: '[0].x' },
    { path: ['a', 1, 2, 'b'], expected: 'a[1][2].b' },
  ])('$expected', ({ path, expected }) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('jobSpecJsonSchema', () => {
  const schema = jobSpecJsonSchema();
  const properties = schema.properties as Record<string, Record<string, unknown>>;

  it('describes the spec as users write it', () => {
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(properties)).toEqual(expect.arrayContaining(['name', 'command', 'tasks', 'resources', 'constraints', 'retry', 'env', 'timeout']));
    expect(schema.required).toEqual(['name', 'command']);
  });

  it('keeps the bounds and patterns of the validator', () => {
    expect(properties.tasks).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_JOB, default: 1 });
    expect(properties.command).toMatchObject({ type: 'array', minItems: 1 });
    expect(properties.name?.pattern).toBe('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');
  });

  it('forbids unknown fields in nested objects too', () => {
    expect(properties.resources?.additionalProperties).toBe(false);
    expect(properties.retry?.additionalProperties).toBe(false);
    const constraint = (properties.constraints?.items ?? {}) as Record<string, unknown>;
    expect(constraint.additionalProperties).toBe(false);
    expect(constraint.required).toEqual(['key', 'operator']);
  });

  it('lets quantities be written as strings or numbers', () => {
    const resources = properties.resources?.properties as Record<string, { type: unknown }>;
    expect(resources.memory?.type).toEqual(['string', 'number']);
    expect(resources.cpu?.type).toEqual(['string', 'number']);
  });
});
