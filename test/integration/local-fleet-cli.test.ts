import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { JobView, NodeRecord, TaskView } from '../../src/core/types.js';
import { ATOLL_BIN, freePort, startProcess, tempDir, trustGlobally, waitFor, type Proc } from '../harness/processes.js';

const REPO = join(ATOLL_BIN, '..', '..');
const FLEET = join(REPO, 'examples', 'fleet.yaml');
const HELLO = join(REPO, 'examples', 'jobs', 'hello.yaml');

/** Runs the CLI in `cwd` the way a user would, finding server and token in ./.atoll/. */
function atoll(cwd: string, args: readonly string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [ATOLL_BIN, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ATOLL_SERVER: '', ATOLL_TOKEN: '' } });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

function json<T>(cwd: string, args: readonly string[]): T {
  const result = atoll(cwd, [...args, '-o', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/**
 * Command lines of the fleet's processes (those naming its data dir). A task an agent is starting
 * shows the agent's own command line between fork and exec, so children of a listed process are
 * left out: they are not fleet processes.
 */
function fleetProcessLines(dataDir: string): string[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[3]!.includes(dataDir))
    .map((m) => ({ pid: m[1]!, ppid: m[2]!, args: m[3]! }));
  const pids = new Set(rows.map((r) => r.pid));
  return rows.filter((r) => !pids.has(r.ppid)).map((r) => r.args);
}

function fleetProcesses(dataDir: string): number {
  return fleetProcessLines(dataDir).length;
}

describe('atoll up and the CLI, as a new user runs them', () => {
  const cwd = tempDir('up');
  const dataDir = join(cwd, '.atoll');
  let up: Proc | undefined;

  afterAll(async () => {
    await up?.kill('SIGINT');
  });

  const startUp = async (port: number) => {
    const proc = startProcess(['up', '--fleet', FLEET, '--port', String(port)], { cwd, env: { ATOLL_SERVER: '', ATOLL_TOKEN: '' } });
    await waitFor(() => (proc.output().includes('nodes are up') ? true : undefined), 45_000, `atoll up to start:\n${proc.output()}`);
    return proc;
  };

  it('starts a control plane, eight agents and the example job, and the CLI drives it', async () => {
    const port = await freePort();
    up = await startUp(port);
    expect(up.output()).toContain('npx atoll run examples/jobs/hello.yaml --wait');
    // The dashboard link it prints opens the dashboard (served at /) and signs in once.
    const link = new RegExp(`(https://127\\.0\\.0\\.1:${port}/#sign-in=([A-Za-z0-9_-]{32}))`).exec(up.output());
    expect(link, up.output()).not.toBeNull();
    trustGlobally(readFileSync(join(dataDir, 'ca.crt'), 'utf8'));
    const page = await fetch(new URL('/', link![1]!));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root"></div>');
    const signIn = () => fetch(new URL('/v1/sign-in', link![1]!), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: link![2] }) });
    expect((await signIn()).status).toBe(201);
    expect((await signIn()).status).toBe(401);
    // Secrets must not show in command lines, which every user of the machine can read.
    const ours = fleetProcessLines(dataDir);
    expect(ours.length).toBe(9);
    expect(ours.join('\n')).not.toMatch(/atoll_(join|admin|node)_/);

    const nodes = json<NodeRecord[]>(cwd, ['nodes']);
    expect(nodes).toHaveLength(8);
    for (const node of nodes) {
      expect(node).toMatchObject({ state: 'ready' });
      expect(node.provider).toBeTruthy();
      expect(node.region).toBeTruthy();
      expect(node.jurisdiction).toMatch(/^[A-Z]{2}$/);
    }
    expect(new Set(nodes.map((n) => n.provider))).toEqual(new Set(['aws', 'gcp', 'hetzner', 'azure', 'edge']));
    const table = atoll(cwd, ['nodes']).stdout;
    expect(table.split('\n')[0]).toMatch(/^NAME\s+STATE\s+PROVIDER\s+REGION/);
    expect(table).toContain('edge-paris-shop-11');

    const [example] = json<JobView[]>(cwd, ['jobs']);
    expect(example?.name).toBe('hello');
    await waitFor(() => (json<JobView>(cwd, ['job', example!.id]).state === 'succeeded' ? true : undefined), 30_000, 'the example job');

    const run = atoll(cwd, ['run', HELLO, '--wait']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/state:\s+succeeded/);
    const jobId = /job:\s+(\S+)/.exec(run.stdout)![1]!;

    const tasks = json<TaskView[]>(cwd, ['tasks', jobId]);
    expect(tasks).toHaveLength(24);
    const kinds = new Map(nodes.map((n) => [n.name, n.kind]));
    for (const task of tasks) {
      expect(Object.keys(task)).toEqual(expect.arrayContaining(['id', 'index', 'state', 'node', 'attempts', 'location']));
      expect(task.state).toBe('succeeded');
      // The edge boxes carry the `edge` taint by default and hello.yaml does not tolerate it.
      expect(kinds.get(task.node!), `${task.id} ran on ${task.node}`).not.toBe('edge');
      expect(task.location?.provider).not.toBe('edge');
      expect(task.location?.jurisdiction).toMatch(/^[A-Z]{2}$/);
    }
    expect(nodes.filter((n) => n.kind === 'edge').map((n) => n.taints)).toEqual([[{ key: 'edge' }], [{ key: 'edge' }], [{ key: 'edge' }]]);
    const yamlTasks = parseYaml(atoll(cwd, ['tasks', jobId, '-o', 'yaml']).stdout) as TaskView[];
    expect(yamlTasks.map((t) => t.id)).toEqual(tasks.map((t) => t.id));

    const task = tasks[7]!;
    expect(atoll(cwd, ['logs', task.id]).stdout).toBe(`hello from task 7 of ${jobId} on ${task.node}\n`);
    expect(atoll(cwd, ['logs', task.id, '--follow']).stdout).toBe(`hello from task 7 of ${jobId} on ${task.node}\n`);
    const explained = atoll(cwd, ['task', task.id]);
    expect(explained.stdout).toContain(`${task.id} was placed on ${task.node} (${task.location!.jurisdiction}, ${task.location!.provider}, ${task.location!.region}`);
    expect(explained.stdout).toContain('untolerated taint edge');

    // Two forms: one stage at the top level, or `stages`.
    const [short, staged] = (JSON.parse(atoll(cwd, ['schema', 'job']).stdout) as { anyOf: { properties: Record<string, unknown> }[] }).anyOf;
    expect(Object.keys(short!.properties)).toEqual(expect.arrayContaining(['name', 'tasks', 'command', 'resources', 'placement', 'tolerations', 'retry', 'timeout']));
    expect(short!.properties).not.toHaveProperty('constraints');
    expect(Object.keys(staged!.properties)).toEqual(expect.arrayContaining(['name', 'stages', 'placement']));

    const failing = atoll(cwd, ['job', 'no-such-job']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('job "no-such-job" does not exist');
  });

  it('stops every process on Ctrl-C and keeps the state for the next start', async () => {
    expect(fleetProcesses(dataDir)).toBe(9);
    up!.child.kill('SIGINT');
    expect(await up!.exited()).toBe(0);
    expect(fleetProcesses(dataDir)).toBe(0);

    up = await startUp(await freePort());
    const jobs = json<JobView[]>(cwd, ['jobs']);
    expect(jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    expect(up.output()).not.toContain('example job');
    expect(json<NodeRecord[]>(cwd, ['nodes']).filter((n) => n.state === 'ready')).toHaveLength(8);
  });
});

describe('atoll up when things go wrong at start-up', () => {
  it('refuses a port another process holds, says why, and leaves nothing running', async () => {
    const { createServer } = await import('node:http');
    const blocker = createServer((_req, res) => res.end('{"ok":true}'));
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    const cwd = tempDir('up-busy');
    try {
      const up = startProcess(['up', '--fleet', FLEET, '--port', String(port)], { cwd });
      expect(await up.exited()).toBe(1);
      expect(up.output()).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(up.output()).not.toContain('nodes are up');
      expect(fleetProcesses(join(cwd, '.atoll'))).toBe(0);
    } finally {
      blocker.close();
    }
  });

  it('leaves nothing running when interrupted during start-up', async () => {
    const cwd = tempDir('up-interrupted');
    const up = startProcess(['up', '--fleet', FLEET, '--port', String(await freePort())], { cwd });
    await waitFor(() => (up.output().includes('agent ') ? true : undefined), 20_000, 'agents to be launched');
    up.child.kill('SIGINT');
    expect(await up.exited()).toBe(0);
    expect(fleetProcesses(join(cwd, '.atoll'))).toBe(0);
  });
});
