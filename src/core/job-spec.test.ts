import { describe, expect, it } from 'vitest';
import { AtollError, type FieldProblem } from './errors.js';
import {
  DEFAULT_CPU_MILLIS,
  DEFAULT_MEMORY_BYTES,
  jobSpecJsonSchema,
  MAX_TASKS_PER_JOB,
  parseJobSpec,
  type JobSpecInput,
  type StageSpec,
} from './job-spec.js';
import { formatPath } from './validation.js';

const minimal = { name: 'hello', command: ['echo', 'hello'] } as const;

/** The minimal valid spec with `patch` merged in at the top level. */
function spec(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...minimal, ...patch };
}

/** The one stage of a short-form spec, parsed. */
function only(value: unknown): StageSpec {
  return parseJobSpec(value).stages[0]!;
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

/** The minimal spec with `placement.require` set. */
function withRequire(requirements: readonly Record<string, unknown>[]): Record<string, unknown> {
  return spec({ placement: { require: requirements } });
}

function paths(problems: readonly FieldProblem[]): string[] {
  return problems.map((p) => p.path).sort();
}

describe('parseJobSpec: defaults', () => {
  it('fills every default for the minimal spec', () => {
    expect(parseJobSpec(minimal)).toEqual({
      name: 'hello',
      namespace: 'default',
      stages: [{
        name: 'main',
        dependsOn: [],
        tasks: 1,
        command: ['echo', 'hello'],
        env: {},
        resources: { cpu: DEFAULT_CPU_MILLIS, memory: DEFAULT_MEMORY_BYTES },
        placement: { require: [], prefer: [], optimize: 'balanced' },
        tolerations: [],
        inputs: [],
        retry: { attempts: 0, backoff: 1000, nodeLosses: 5 },
        killGrace: 5000,
        secrets: {},
        network: false,
      }],
    });
  });

  it('takes network and limits, normalised to bytes and milliseconds; a stage inherits or replaces them', () => {
    expect(only(spec({ network: true, limits: { memory: '1Gi', cpuTime: '90s', processes: 64, openFiles: 256 } }))).toMatchObject({
      network: true, limits: { memory: 2 ** 30, cpuTime: 90_000, processes: 64, openFiles: 256 },
    });
    expect(only(minimal).limits).toBeUndefined();
    const staged = parseJobSpec({
      name: 'staged', network: true, limits: { processes: 64 },
      stages: [{ name: 'a', command: ['true'] }, { name: 'b', command: ['true'], network: false, limits: { openFiles: 32 } }],
    });
    expect(staged.stages.map((s) => [s.network, s.limits])).toEqual([[true, { processes: 64 }], [false, { openFiles: 32 }]]);
  });

  it('takes data inputs and forEach, and refuses tasks next to forEach', () => {
    expect(only(spec({ inputs: [{ dataset: 'readings', partitions: ['berlin'] }, { dataset: 'model' }] })).inputs).toEqual([{ dataset: 'readings', partitions: ['berlin'] }, { dataset: 'model' }]);
    expect(only(spec({ forEach: { dataset: 'readings' } })).forEach).toEqual({ dataset: 'readings' });
    expect(() => parseJobSpec(spec({ forEach: { dataset: 'readings' }, tasks: 3 }))).toThrow(expect.objectContaining({ problems: [{ path: 'tasks', message: 'forEach makes one task per partition; leave tasks out' }] }));
    expect(() => parseJobSpec(spec({ inputs: [{ dataset: '../etc' }] }))).toThrow(expect.objectContaining({ problems: [expect.objectContaining({ path: 'inputs[0].dataset' })] }));
    expect(() => parseJobSpec(spec({ inputs: [{ dataset: 'a', partitions: [] }] }))).toThrow(expect.objectContaining({ problems: [expect.objectContaining({ path: 'inputs[0].partitions' })] }));
  });

  it('has no timeout unless one is given', () => {
    expect(only(minimal).timeout).toBeUndefined();
    expect(only(spec({ timeout: '5m' })).timeout).toBe(300_000);
  });

  it('defaults each resource separately', () => {
    expect(only(spec({ resources: { cpu: 2 } })).resources).toEqual({ cpu: 2000, memory: DEFAULT_MEMORY_BYTES });
    expect(only(spec({ resources: { memory: '1Gi' } })).resources).toEqual({ cpu: DEFAULT_CPU_MILLIS, memory: 2 ** 30 });
    expect(only(spec({ resources: {} })).resources).toEqual({ cpu: DEFAULT_CPU_MILLIS, memory: DEFAULT_MEMORY_BYTES });
  });

  it('defaults retry fields separately', () => {
    expect(only(spec({ retry: { attempts: 3 } })).retry).toEqual({ attempts: 3, backoff: 1000, nodeLosses: 5 });
    expect(only(spec({ retry: { backoff: '10s' } })).retry).toEqual({ attempts: 0, backoff: 10_000, nodeLosses: 5 });
    expect(only(spec({ retry: { nodeLosses: 0 } })).retry).toEqual({ attempts: 0, backoff: 1000, nodeLosses: 0 });
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
      name: 'label requirements',
      input: { placement: { require: [{ key: 'tier', operator: 'In', values: ['gold'] }, { key: 'gpu', operator: 'Exists' }] } },
      expected: { placement: { require: [{ key: 'tier', operator: 'In', values: ['gold'] }, { key: 'gpu', operator: 'Exists' }] } },
    },
  ])('normalises $name', ({ input, expected }) => {
    const { namespace, ...stage } = expected;
    const parsed = parseJobSpec(spec(input));
    if (namespace !== undefined) expect(parsed.namespace).toBe(namespace);
    expect(parsed.stages[0]).toMatchObject(stage);
  });

  it('accepts the JobSpecInput type for specs written in code', () => {
    const input: JobSpecInput = { name: 'typed', command: ['true'], resources: { cpu: '1', memory: '1Gi' } };
    expect(only(input).resources).toEqual({ cpu: 1000, memory: 2 ** 30 });
  });
});

describe('parseJobSpec: refusals name the field', () => {
  it.each<{ name: string; input: unknown; path: string; message: string | RegExp }>([
    { name: 'unknown top-level field', input: spec({ replicas: 3 }), path: 'replicas', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown nested field', input: spec({ resources: { cpu: 1, foo: 2 } }), path: 'resources.foo', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown retry field', input: spec({ retry: { attempts: 1, delay: '1s' } }), path: 'retry.delay', message: /unknown field/ },
    { name: 'unknown requirement field', input: spec({ placement: { require: [{ key: 'a', operator: 'Exists', value: 'x' }] } }), path: 'placement.require[0].value', message: /unknown field/ },
    { name: 'the old top-level constraints', input: spec({ constraints: [{ key: 'a', operator: 'Exists' }] }), path: 'constraints', message: 'unknown field; remove it or check its spelling' },
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
    { name: 'network as a string', input: spec({ network: 'yes' }), path: 'network', message: 'expected boolean, got "yes"' },
    { name: 'an unknown limit', input: spec({ limits: { threads: 4 } }), path: 'limits.threads', message: /unknown field/ },
    { name: 'a memory limit too small to start anything', input: spec({ limits: { memory: '1Mi' } }), path: 'limits.memory', message: 'limits.memory must be at least 16Mi' },
    { name: 'a CPU time below a second', input: spec({ limits: { cpuTime: '10ms' } }), path: 'limits.cpuTime', message: 'limits.cpuTime must be at least 1s' },
    { name: 'too few processes', input: spec({ limits: { processes: 2 } }), path: 'limits.processes', message: /expected number to be >=8/ },
    { name: 'fractional open files', input: spec({ limits: { openFiles: 100.5 } }), path: 'limits.openFiles', message: /expected int/ },
    { name: 'In without values', input: withRequire([{ key: 'tier', operator: 'In' }]), path: 'placement.require[0].values', message: 'operator In needs a non-empty list of values' },
    { name: 'NotIn with empty values', input: withRequire([{ key: 'tier', operator: 'NotIn', values: [] }]), path: 'placement.require[0].values', message: 'operator NotIn needs a non-empty list of values' },
    { name: 'Exists with values', input: withRequire([{ key: 'gpu', operator: 'Exists', values: ['a'] }]), path: 'placement.require[0].values', message: 'operator Exists takes no values' },
    { name: 'DoesNotExist with values', input: withRequire([{ key: 'gpu', operator: 'Exists' }, { key: 'spot', operator: 'DoesNotExist', values: [] }]), path: 'placement.require[1].values', message: 'operator DoesNotExist takes no values' },
    { name: 'unknown operator', input: withRequire([{ key: 'tier', operator: 'Like', values: ['g'] }]), path: 'placement.require[0].operator', message: 'expected one of "In", "NotIn", "Exists", "DoesNotExist", got "Like"' },
    { name: 'empty requirement key', input: withRequire([{ key: '', operator: 'Exists' }]), path: 'placement.require[0].key', message: /.+/ },
    { name: 'env key starts with a digit', input: spec({ env: { '1BAD': 'x' } }), path: 'env.1BAD', message: 'expected an environment variable name like MY_VAR, got "1BAD"' },
    { name: 'env key has a dash', input: spec({ env: { 'MY-VAR': 'x' } }), path: 'env.MY-VAR', message: 'expected an environment variable name like MY_VAR, got "MY-VAR"' },
    { name: 'env value is a number', input: spec({ env: { PORT: 8080 } }), path: 'env.PORT', message: 'expected string, got number 8080' },
    { name: 'retry attempts negative', input: spec({ retry: { attempts: -1 } }), path: 'retry.attempts', message: /expected number to be >=0/ },
    { name: 'retry attempts too many', input: spec({ retry: { attempts: 51 } }), path: 'retry.attempts', message: /expected number to be <=50/ },
    { name: 'retry nodeLosses not whole', input: spec({ retry: { nodeLosses: 1.5 } }), path: 'retry.nodeLosses', message: /expected int/ },
    { name: 'retry nodeLosses too many', input: spec({ retry: { nodeLosses: 101 } }), path: 'retry.nodeLosses', message: /expected number to be <=100/ },
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

  it('reports the index of the bad requirement only', () => {
    const error = refusal(withRequire([
      { key: 'tier', operator: 'In', values: ['gold'] },
      { key: 'gpu', operator: 'Exists' },
      { key: 'zone', operator: 'In' },
    ]));
    expect(paths(error.problems)).toEqual(['placement.require[2].values']);
  });

  it('names every bad env key with what a good one looks like', () => {
    const error = refusal(spec({ env: { GOOD: 'x', '1BAD': 'y', 'NO SPACE': 'z' } }));
    expect(error.problems).toEqual([
      { path: 'env.1BAD', message: 'expected an environment variable name like MY_VAR, got "1BAD"' },
      { path: 'env.NO SPACE', message: 'expected an environment variable name like MY_VAR, got "NO SPACE"' },
    ]);
  });
});

/** The minimal spec with `placement` set to `placement`. */
function placed(placement: Record<string, unknown>): Record<string, unknown> {
  return spec({ placement });
}

describe('parseJobSpec: placement and tolerations', () => {
  it('leaves every optional placement rule out when none is given', () => {
    const parsed = only(minimal);
    expect(parsed.placement).toEqual({ require: [], prefer: [], optimize: 'balanced' });
    expect(parsed.tolerations).toEqual([]);
    // Out means "no rule", not "an empty rule": no residency is not "no jurisdiction allowed".
    for (const field of ['residency', 'avoid', 'near', 'weights', 'spread', 'expectedDuration']) expect(parsed.placement).not.toHaveProperty(field);
  });

  it.each<{ name: string; input: Record<string, unknown>; expected: Record<string, unknown> }>([
    { name: 'residency with codes and groups', input: placed({ residency: ['EU', 'CH'] }), expected: { placement: { residency: ['EU', 'CH'], require: [], prefer: [], optimize: 'balanced' } } },
    {
      name: 'avoid, filling the lists it leaves out',
      input: placed({ avoid: { providers: ['aws'], sites: ['paris-shop-11'] } }),
      expected: { placement: { avoid: { jurisdictions: [], providers: ['aws'], regions: [], sites: ['paris-shop-11'] } } },
    },
    { name: 'avoid with jurisdictions only', input: placed({ avoid: { jurisdictions: ['US'] } }), expected: { placement: { avoid: { jurisdictions: ['US'], providers: [], regions: [], sites: [] } } } },
    { name: 'spread with the default maxSkew', input: placed({ spread: { across: 'provider' } }), expected: { placement: { spread: { across: 'provider', maxSkew: 1 } } } },
    { name: 'spread with a maxSkew', input: placed({ spread: { across: 'site', maxSkew: 3 } }), expected: { placement: { spread: { across: 'site', maxSkew: 3 } } } },
    {
      name: 'near users as region names and points',
      input: placed({ near: { users: ['eu-west-1', { lat: 48.86, lon: 2.35 }, { lat: -33.87, lon: 151.21 }] } }),
      expected: { placement: { near: { users: ['eu-west-1', { lat: 48.86, lon: 2.35 }, { lat: -33.87, lon: 151.21 }] } } },
    },
    { name: 'optimize latency', input: placed({ optimize: 'latency' }), expected: { placement: { optimize: 'latency' } } },
    { name: 'optimize cost', input: placed({ optimize: 'cost' }), expected: { placement: { optimize: 'cost' } } },
    { name: 'weights at the bounds', input: placed({ weights: { latency: 0, cost: 100, load: 2.5 } }), expected: { placement: { optimize: 'balanced', weights: { latency: 0, cost: 100, load: 2.5 } } } },
    {
      name: 'prefer with the default weight',
      input: placed({ prefer: [{ match: { key: 'tier', operator: 'In', values: ['bulk'] } }, { weight: 5, match: { key: 'ssd', operator: 'Exists' } }] }),
      expected: { placement: { prefer: [{ weight: 1, match: { key: 'tier', operator: 'In', values: ['bulk'] } }, { weight: 5, match: { key: 'ssd', operator: 'Exists' } }] } },
    },
    { name: 'expectedDuration as a duration', input: placed({ expectedDuration: '90m' }), expected: { placement: { expectedDuration: 5_400_000 } } },
    { name: 'expectedDuration in milliseconds', input: placed({ expectedDuration: 1500 }), expected: { placement: { expectedDuration: 1500 } } },
    { name: 'a toleration by key', input: spec({ tolerations: [{ key: 'edge' }] }), expected: { tolerations: [{ key: 'edge' }] } },
    {
      name: 'tolerations with operators',
      input: spec({ tolerations: [{ key: 'edge', operator: 'Exists' }, { key: 'gpu', operator: 'Equal', value: 'a100' }, { key: 'spot', value: 'yes' }] }),
      expected: { tolerations: [{ key: 'edge', operator: 'Exists' }, { key: 'gpu', operator: 'Equal', value: 'a100' }, { key: 'spot', value: 'yes' }] },
    },
  ])('accepts $name', ({ input, expected }) => {
    expect(only(input)).toMatchObject(expected);
  });

  it('parses a spec using every placement field at once', () => {
    const parsed = only(spec({
      placement: {
        residency: ['EU'],
        avoid: { providers: ['aws'] },
        require: [{ key: 'arch', operator: 'In', values: ['amd64'] }],
        prefer: [{ weight: 3, match: { key: 'tier', operator: 'In', values: ['bulk'] } }],
        near: { users: ['eu-west-1'] },
        optimize: 'cost',
        weights: { latency: 0.5 },
        spread: { across: 'region', maxSkew: 2 },
        expectedDuration: '10m',
      },
      tolerations: [{ key: 'edge' }],
    }));
    expect(parsed.placement).toEqual({
      residency: ['EU'],
      avoid: { jurisdictions: [], providers: ['aws'], regions: [], sites: [] },
      require: [{ key: 'arch', operator: 'In', values: ['amd64'] }],
      prefer: [{ weight: 3, match: { key: 'tier', operator: 'In', values: ['bulk'] } }],
      near: { users: ['eu-west-1'] },
      optimize: 'cost',
      weights: { latency: 0.5 },
      spread: { across: 'region', maxSkew: 2 },
      expectedDuration: 600_000,
    });
    expect(parsed.tolerations).toEqual([{ key: 'edge' }]);
  });

  it.each<{ name: string; input: unknown; path: string; message: string | RegExp }>([
    { name: 'lowercase residency', input: placed({ residency: ['eu'] }), path: 'placement.residency[0]', message: 'expected an ISO 3166-1 alpha-2 code like DE or a group like EU (upper case)' },
    { name: 'lowercase residency after a good one', input: placed({ residency: ['DE', 'fr'] }), path: 'placement.residency[1]', message: /upper case/ },
    { name: 'empty residency', input: placed({ residency: [] }), path: 'placement.residency', message: 'list at least one jurisdiction, or leave residency out' },
    { name: 'residency as a string', input: placed({ residency: 'EU' }), path: 'placement.residency', message: 'expected array, got "EU"' },
    { name: 'lowercase avoided jurisdiction', input: placed({ avoid: { jurisdictions: ['us'] } }), path: 'placement.avoid.jurisdictions[0]', message: /upper case/ },
    { name: 'unknown avoid field', input: placed({ avoid: { clouds: ['aws'] } }), path: 'placement.avoid.clouds', message: 'unknown field; remove it or check its spelling' },
    { name: 'avoided provider with an empty name', input: placed({ avoid: { providers: [''] } }), path: 'placement.avoid.providers[0]', message: /.+/ },
    { name: 'unknown spread domain', input: placed({ spread: { across: 'country' } }), path: 'placement.spread.across', message: 'expected one of "provider", "region", "zone", "site", got "country"' },
    { name: 'spread without a domain', input: placed({ spread: { maxSkew: 1 } }), path: 'placement.spread.across', message: /.+/ },
    { name: 'maxSkew of 0', input: placed({ spread: { across: 'provider', maxSkew: 0 } }), path: 'placement.spread.maxSkew', message: /^maxSkew must be at least 1/ },
    { name: 'fractional maxSkew', input: placed({ spread: { across: 'provider', maxSkew: 1.5 } }), path: 'placement.spread.maxSkew', message: 'maxSkew is a whole number of tasks, got number 1.5' },
    { name: 'unknown field in placement', input: placed({ residence: ['EU'] }), path: 'placement.residence', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown field in spread', input: placed({ spread: { across: 'zone', skew: 1 } }), path: 'placement.spread.skew', message: 'unknown field; remove it or check its spelling' },
    { name: 'weight above 100', input: placed({ weights: { latency: 101 } }), path: 'placement.weights.latency', message: 'weights are 0 to 100' },
    { name: 'negative weight', input: placed({ weights: { cost: -1 } }), path: 'placement.weights.cost', message: 'weights are 0 to 100' },
    { name: 'weight of an unknown scorer', input: placed({ weights: { speed: 1 } }), path: 'placement.weights.speed', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown objective', input: placed({ optimize: 'speed' }), path: 'placement.optimize', message: 'expected one of "latency", "cost", "balanced", got "speed"' },
    { name: 'near user as a number', input: placed({ near: { users: [42] } }), path: 'placement.near.users[0]', message: 'expected {lat, lon} or a region name like "eu-west-1", got number 42' },
    { name: 'near user without lon', input: placed({ near: { users: ['eu-west-1', { lat: 48.8 }] } }), path: 'placement.near.users[1]', message: /expected \{lat, lon\} or a region name/ },
    { name: 'near user beyond the pole', input: placed({ near: { users: [{ lat: 91, lon: 0 }] } }), path: 'placement.near.users[0].lat', message: /expected number to be <=90/ },
    { name: 'near without users', input: placed({ near: { users: [] } }), path: 'placement.near.users', message: /expected array to have >=1 items/ },
    { name: 'preference weight of 0', input: placed({ prefer: [{ weight: 0, match: { key: 'tier', operator: 'Exists' } }] }), path: 'placement.prefer[0].weight', message: 'a preference weight is 1 to 100' },
    { name: 'preference without values for In', input: placed({ prefer: [{ match: { key: 'tier', operator: 'In' } }] }), path: 'placement.prefer[0].match.values', message: 'operator In needs a non-empty list of values' },
    { name: 'expectedDuration "soon"', input: placed({ expectedDuration: 'soon' }), path: 'placement.expectedDuration', message: 'expected a duration like 30s, 5m or 1h, got "soon"' },
    { name: 'expectedDuration of 0', input: placed({ expectedDuration: 0 }), path: 'placement.expectedDuration', message: 'expected a duration like 30s, 5m or 1h, got 0' },
    { name: 'placement as a list', input: spec({ placement: [] }), path: 'placement', message: 'expected object, got a list' },
    { name: 'toleration Equal without value', input: spec({ tolerations: [{ key: 'gpu', operator: 'Equal' }] }), path: 'tolerations[0].value', message: 'operator Equal needs a value' },
    { name: 'toleration Exists with a value', input: spec({ tolerations: [{ key: 'edge' }, { key: 'gpu', operator: 'Exists', value: 'a100' }] }), path: 'tolerations[1].value', message: 'operator Exists takes no value' },
    { name: 'toleration with an unknown operator', input: spec({ tolerations: [{ key: 'edge', operator: 'In' }] }), path: 'tolerations[0].operator', message: 'expected one of "Equal", "Exists", got "In"' },
    { name: 'toleration without a key', input: spec({ tolerations: [{ operator: 'Exists' }] }), path: 'tolerations[0].key', message: /.+/ },
    { name: 'unknown toleration field', input: spec({ tolerations: [{ key: 'edge', effect: 'NoSchedule' }] }), path: 'tolerations[0].effect', message: 'unknown field; remove it or check its spelling' },
    { name: 'tolerations as a map', input: spec({ tolerations: { edge: true } }), path: 'tolerations', message: 'expected array, got an object' },
  ])('refuses $name', ({ input, path, message }) => {
    const error = refusal(input);
    expect(error.code).toBe('invalid_spec');
    const problem = error.problems.find((p) => p.path === path);
    expect(problem, `problems: ${JSON.stringify(error.problems)}`).toBeDefined();
    if (typeof message === 'string') expect(problem?.message).toBe(message);
    else expect(problem?.message).toMatch(message);
    expect(error.message).toContain(`${path}: ${problem?.message}`);
  });

  it('names every placement problem at once', () => {
    const error = refusal(spec({
      placement: { residency: ['eu'], spread: { across: 'planet', maxSkew: 0 }, weights: { cost: 500 }, expectedDuration: 'soon', extra: 1 },
      tolerations: [{ key: 'gpu', operator: 'Equal' }],
    }));
    expect(paths(error.problems)).toEqual([
      'placement.expectedDuration',
      'placement.extra',
      'placement.residency[0]',
      'placement.spread.across',
      'placement.spread.maxSkew',
      'placement.weights.cost',
      'tolerations[0].value',
    ]);
  });
});

describe('formatPath', () => {
  it.each<{ path: PropertyKey[]; expected: string }>([
    { path: [], expected: '' },
    { path: ['name'], expected: 'name' },
    { path: ['resources', 'memory'], expected: 'resources.memory' },
    { path: ['placement', 'require', 0, 'operator'], expected: 'placement.require[0].operator' },
    { path: ['command', 3], expected: 'command[3]' },
    { path: [0, 'x'], expected: '[0].x' },
    { path: ['a', 1, 2, 'b'], expected: 'a[1][2].b' },
  ])('$expected', ({ path, expected }) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('jobSpecJsonSchema', () => {
  const [schema, staged] = jobSpecJsonSchema().anyOf as Record<string, unknown>[];
  const properties = schema!.properties as Record<string, Record<string, unknown>>;

  it('describes both forms: one stage at the top level, or a list of stages', () => {
    const stagedProperties = staged!.properties as Record<string, Record<string, unknown>>;
    expect(staged!.required).toEqual(['name', 'stages']);
    expect(stagedProperties).not.toHaveProperty('command');
    const stage = (stagedProperties.stages?.items ?? {}) as { required?: unknown; additionalProperties?: unknown; properties?: Record<string, unknown> };
    expect(stage.required).toEqual(['name', 'command']);
    expect(stage.additionalProperties).toBe(false);
    expect(Object.keys(stage.properties ?? {})).toEqual(expect.arrayContaining(['dependsOn', 'forEach', 'inputs', 'output', 'placement']));
  });

  it('describes the spec as users write it', () => {
    expect(schema!.type).toBe('object');
    expect(schema!.additionalProperties).toBe(false);
    expect(Object.keys(properties)).toEqual(expect.arrayContaining(['name', 'command', 'tasks', 'resources', 'placement', 'tolerations', 'retry', 'env', 'timeout']));
    expect(properties).not.toHaveProperty('constraints');
    expect(schema!.required).toEqual(['name', 'command']);
  });

  it('keeps the bounds and patterns of the validator', () => {
    expect(properties.tasks).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_JOB, default: 1 });
    expect(properties.command).toMatchObject({ type: 'array', minItems: 1 });
    expect(properties.name?.pattern).toBe('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');
  });

  it('forbids unknown fields in nested objects too', () => {
    expect(properties.resources?.additionalProperties).toBe(false);
    expect(properties.retry?.additionalProperties).toBe(false);
    const placement = (properties.placement ?? {}) as { additionalProperties?: unknown; properties?: Record<string, { items?: Record<string, unknown> }> };
    expect(placement.additionalProperties).toBe(false);
    const requirement = placement.properties?.require?.items ?? {};
    expect(requirement.additionalProperties).toBe(false);
    expect(requirement.required).toEqual(['key', 'operator']);
    const toleration = (properties.tolerations?.items ?? {}) as Record<string, unknown>;
    expect(toleration.additionalProperties).toBe(false);
    expect(toleration.required).toEqual(['key']);
  });

  it('lets quantities be written as strings or numbers', () => {
    const resources = properties.resources?.properties as Record<string, { type: unknown }>;
    expect(resources.memory?.type).toEqual(['string', 'number']);
    expect(resources.cpu?.type).toEqual(['string', 'number']);
  });
});

describe('parseJobSpec: stages', () => {
  const pipeline = {
    name: 'pipeline',
    resources: { cpu: 2 },
    env: { MODE: 'fast', SHARED: 'job' },
    retry: { attempts: 2 },
    timeout: '10m',
    stages: [
      { name: 'map', forEach: { dataset: 'readings' }, command: ['score'], output: { dataset: 'scores' }, env: { SHARED: 'stage' } },
      { name: 'reduce', dependsOn: ['map'], inputs: [{ dataset: 'scores' }], command: ['combine'], resources: { memory: '1Gi' }, timeout: '1m', placement: { residency: ['EU'] } },
    ],
  };

  it('gives each stage the job-level settings it leaves out, merging env', () => {
    const parsed = parseJobSpec(pipeline);
    expect(parsed.name).toBe('pipeline');
    expect(parsed.stages.map((s) => s.name)).toEqual(['map', 'reduce']);
    const [map, reduce] = parsed.stages;
    expect(map).toMatchObject({ dependsOn: [], resources: { cpu: 2000, memory: DEFAULT_MEMORY_BYTES }, env: { MODE: 'fast', SHARED: 'stage' }, retry: { attempts: 2 }, timeout: 600_000, forEach: { dataset: 'readings' } });
    // A stage's own resources replace the job's whole: memory given, cpu back to its default.
    expect(reduce).toMatchObject({ dependsOn: ['map'], resources: { cpu: DEFAULT_CPU_MILLIS, memory: 2 ** 30 }, env: { MODE: 'fast', SHARED: 'job' }, timeout: 60_000, tasks: 1 });
    expect(reduce!.placement.residency).toEqual(['EU']);
    expect(map!.placement).toEqual({ require: [], prefer: [], optimize: 'balanced' });
  });

  it.each<{ name: string; input: Record<string, unknown>; path: string; message: string | RegExp }>([
    { name: 'command at the top level next to stages', input: { ...pipeline, command: ['x'] }, path: 'command', message: /unknown field/ },
    { name: 'no stages', input: { name: 'p', stages: [] }, path: 'stages', message: 'expected at least one stage' },
    { name: 'a stage without a command', input: { name: 'p', stages: [{ name: 'a' }] }, path: 'stages[0].command', message: /got nothing/ },
    { name: 'an unknown stage field', input: { name: 'p', stages: [{ name: 'a', command: ['x'], after: ['b'] }] }, path: 'stages[0].after', message: /unknown field/ },
    { name: 'tasks next to forEach', input: { name: 'p', stages: [{ name: 'a', command: ['x'], forEach: { dataset: 'd' }, tasks: 2 }] }, path: 'stages[0].tasks', message: /leave tasks out/ },
    { name: 'a duplicate stage name', input: { name: 'p', stages: [{ name: 'a', command: ['x'] }, { name: 'a', command: ['y'] }] }, path: 'stages[1].name', message: /already defined at stages\[0\]/ },
    { name: 'an unknown dependency', input: { name: 'p', stages: [{ name: 'a', command: ['x'], dependsOn: ['b'] }] }, path: 'stages[0].dependsOn[0]', message: 'no stage named "b"; the stages are a' },
    { name: 'a stage depending on itself', input: { name: 'p', stages: [{ name: 'a', command: ['x'], dependsOn: ['a'] }] }, path: 'stages[0].dependsOn[0]', message: /cannot depend on itself/ },
    {
      name: 'a cycle',
      input: { name: 'p', stages: [{ name: 'a', command: ['x'], dependsOn: ['c'] }, { name: 'b', command: ['x'], dependsOn: ['a'] }, { name: 'c', command: ['x'], dependsOn: ['b'] }] },
      path: 'stages', message: 'stages a -> c -> b -> a depend on each other in a cycle; a stage can only wait for stages that do not wait for it',
    },
    {
      name: 'reading an output without waiting for its stage',
      input: { name: 'p', stages: [{ name: 'a', command: ['x'], output: { dataset: 'd' } }, { name: 'b', command: ['x'], inputs: [{ dataset: 'd' }] }] },
      path: 'stages[1].inputs[0].dataset', message: 'dataset "d" is written by stage "a" of this job; add "a" to dependsOn so this stage starts after it',
    },
    {
      name: 'naming partitions of an output of the job',
      input: { name: 'p', stages: [{ name: 'a', command: ['x'], output: { dataset: 'd' } }, { name: 'b', command: ['x'], dependsOn: ['a'], forEach: { dataset: 'd', partitions: ['0-x'] } }] },
      path: 'stages[1].forEach.partitions', message: /leave partitions out/,
    },
    { name: 'too many tasks across stages', input: { name: 'p', stages: [{ name: 'a', command: ['x'], tasks: MAX_TASKS_PER_JOB }, { name: 'b', command: ['x'], tasks: 1 }] }, path: 'stages', message: /100001 tasks in all/ },
  ])('refuses $name', ({ input, path, message }) => {
    const error = refusal(input);
    expect(error.problems).toContainEqual({ path, message: expect.stringMatching(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message) });
  });

  it('accepts a stage reading an output through a stage in between', () => {
    const parsed = parseJobSpec({
      name: 'p',
      stages: [
        { name: 'a', command: ['x'], output: { dataset: 'd' } },
        { name: 'b', command: ['x'], dependsOn: ['a'] },
        { name: 'c', command: ['x'], dependsOn: ['b'], inputs: [{ dataset: 'd' }] },
      ],
    });
    expect(parsed.stages[2]!.inputs).toEqual([{ dataset: 'd' }]);
  });
});
