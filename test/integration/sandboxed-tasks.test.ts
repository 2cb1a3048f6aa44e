import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpecInput } from '../../src/core/job-spec.js';
import { ATOLL_BIN, startAgent, startProcess, startServer, tempDir, waitFor, waitForJobEnd, waitForReadyNodes, type Proc, type ServerProc } from '../harness/processes.js';

// Tasks under bubblewrap on a real agent: each test is a task trying something the sandbox must
// stop, and asserts how it was stopped (the errno the task saw), not merely that it failed.
// Needs Linux and bwrap (installed by .ci/run). Run twice: by an agent running as root (tasks run
// as nobody, bwrap makes no user namespace) and by one running as an unprivileged user (bwrap
// makes a user namespace; tasks run as that user), the two ways the sandbox is built.

const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');

/** Runs a python3 snippet as a one-task job on `node` and returns the task, its stdout and the job. */
async function runTask(server: ServerProc, node: string, name: string, code: string, extra: Partial<Record<string, unknown>> = {}) {
  const spec = { name, command: ['python3', '-c', code], placement: { require: [{ key: 'name', operator: 'In', values: [node] }] }, ...extra } as JobSpecInput;
  const job = await server.client.submitJob(spec);
  const done = await waitForJobEnd(server.client, job.id);
  const task = await server.client.getTask(`${job.id}.0`);
  const { items } = await server.client.getLogs(task.id);
  const stdout = items.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
  const stderr = items.filter((c) => c.stream === 'stderr').map((c) => c.data).join('');
  return { done, task, stdout, stderr };
}

/** The JSON object a task printed on its last line. */
function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

const TRY_PATHS = `
import errno, json, os, sys
def attempt(action, path):
    try:
        action(path)
        return 'ok'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
`;

const UNPRIVILEGED = 65534;
const canSandbox = process.platform === 'linux' && existsSync('/usr/bin/bwrap');
const isRoot = process.getuid?.() === 0;

/** An agent process running as an unprivileged user, its data dir and join token file its own. */
function startUnprivilegedAgent(server: ServerProc, name: string, dataDir: string): Proc {
  chownSync(dataDir, UNPRIVILEGED, UNPRIVILEGED);
  const tokenFile = join(dataDir, 'join-token-for-test');
  writeFileSync(tokenFile, `${server.joinToken}\n`, { mode: 0o600 });
  chownSync(tokenFile, UNPRIVILEGED, UNPRIVILEGED);
  const child = spawn(process.execPath, [ATOLL_BIN, 'agent', '--server', server.url, '--join-token-file', tokenFile, '--data-dir', dataDir,
    '--name', name, '--provider', 'local', '--region', 'test', '--jurisdiction', 'DE', '--cpu', '4', '--memory', '8Gi', '--label', `name=${name}`, '--log-level', 'warn'],
  { uid: UNPRIVILEGED, gid: UNPRIVILEGED, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dataDir } });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  return {
    child, output: () => output, exited: () => exit,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
}

// Root is needed to start the unprivileged agent and to see the root agent's way; CI runs as root.
describe.skipIf(!canSandbox || !isRoot).each([
  { user: 'root' },
  { user: 'an unprivileged user' },
])('sandboxed tasks (bubblewrap) of an agent running as $user', ({ user }) => {
  const unprivileged = user !== 'root';
  let server: ServerProc;
  let agent: Proc;
  let listener: Server;
  let listenerPort = 0;
  let connections = 0;
  // Outside /tmp (which the sandbox replaces whole), so hiding it takes the sandbox's own mask.
  // Under a top-level dir the sandbox shows read-only (not /tmp, which it replaces: were the
  // checkout under /tmp, the data dir would not even exist for the task and the checks below
  // would prove less), so the mask over the data dir is what hides it.
  const agentDir = mkdtempSync(join(existsSync('/var/lib') ? '/var/lib' : PACKAGE_ROOT, '.test-sandbox-agent-'));
  const hostMarker = join(tempDir('sandbox-marker'), 'written-by-task');

  beforeAll(async () => {
    listener = createServer((socket) => {
      connections += 1;
      // The task closes as soon as it connected; a reset then is expected, not a failure.
      socket.on('error', () => socket.destroy());
      socket.end('hello from the host\n');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenerPort = (listener.address() as { port: number }).port;
    server = await startServer({ extraArgs: ['--heartbeat', '500ms'] });
    agent = unprivileged ? startUnprivilegedAgent(server, 'boxed', agentDir) : startAgent(server.url, server.joinToken, { name: 'boxed', labels: { name: 'boxed' } }, agentDir);
    await waitForReadyNodes(server.client, 1);
  });

  afterAll(async () => {
    await agent?.kill('SIGTERM');
    await server?.kill('SIGKILL');
    listener?.close();
    rmSync(agentDir, { recursive: true, force: true });
  });

  it('says in its node labels that it sandboxes', async () => {
    const [node] = (await server.client.listNodes({})).items;
    expect(node?.labels['atoll.dev/sandbox']).toBe('bwrap');
    expect(agent.output()).not.toContain('cannot sandbox');
  });

  it('hides the agent data dir: credential, journal, other attempts and the join token file', async () => {
    expect(existsSync(join(agentDir, 'node-credential.json'))).toBe(true);
    const { done, stdout } = await runTask(server, 'boxed', 'read-secrets', `${TRY_PATHS}
d = os.environ['AGENT_DIR']
print(json.dumps({p: attempt(lambda p: open(p).read() if not os.path.isdir(p) else os.listdir(p), p) for p in [
    d + '/node-credential.json', d + '/journal', d + '/attempts', d + '/join-token-for-test', d + '/attempts/' + os.environ['ATOLL_ATTEMPT_ID']]}))
print(json.dumps({'dataDirEntries': os.listdir(d) if os.access(d, os.R_OK) else 'EACCES'}))
`, { env: { AGENT_DIR: agentDir } });
    expect(done.state).toBe('succeeded');
    const lines = stdout.trim().split('\n');
    const tried = JSON.parse(lines[0]!) as Record<string, string>;
    // The data dir is an empty read-only tmpfs: nothing in it exists for the task (as root's
    // tasks run as nobody, they may not even enter it).
    for (const [path, result] of Object.entries(tried)) expect([path, result]).toEqual([path, expect.stringMatching(unprivileged ? /^ENOENT$/ : /^(ENOENT|EACCES)$/)]);
    expect(tried[join(agentDir, 'node-credential.json')]).not.toBe('ok');
    expect(lastJson(stdout)['dataDirEntries']).toEqual(unprivileged ? [] : 'EACCES');
  });

  it('refuses writes outside the work dir, and the host sees none of them', async () => {
    const targets = { etc: '/etc/atoll-sandbox-probe', usr: '/usr/atoll-sandbox-probe', home: join(homedir(), 'atoll-sandbox-probe'), dataDir: join(agentDir, 'atoll-sandbox-probe'), hostTmp: hostMarker };
    const { done, stdout } = await runTask(server, 'boxed', 'write-outside', `${TRY_PATHS}
targets = json.loads(os.environ['TARGETS'])
write = lambda p: open(p, 'w').write('x')
result = {k: attempt(write, p) for k, p in targets.items()}
result['work'] = attempt(write, os.path.join(os.environ['HOME'], 'mine'))
result['output'] = attempt(write, os.path.join(os.environ['ATOLL_OUTPUT_DIR'], 'mine'))
result['input'] = attempt(write, os.path.join(os.environ['ATOLL_INPUT_DIR'], 'mine'))
result['cwd'] = os.getcwd()
print(json.dumps(result))
`, { env: { TARGETS: JSON.stringify(targets) } });
    expect(done.state).toBe('succeeded');
    const result = lastJson(stdout);
    expect(result).toMatchObject({ etc: 'EROFS', usr: 'EROFS', input: 'EROFS', work: 'ok', output: 'ok', cwd: '/atoll/work' });
    // $HOME of the agent (root's 0700 home) and the masked data dir: read-only, or not even enterable by nobody.
    expect(result['home']).toMatch(/^(EACCES|EROFS)$/);
    expect(result['dataDir']).toMatch(unprivileged ? /^EROFS$/ : /^(EACCES|EROFS)$/);
    // /tmp is the task's own: the write "worked" but landed in its private /tmp, not the host's.
    expect(result['hostTmp']).toMatch(/^(ok|ENOENT)$/);
    for (const path of Object.values(targets)) expect(existsSync(path)).toBe(false);
  });

  it('has no network unless the spec asks for it', async () => {
    const connect = `${TRY_PATHS}
import socket
s = socket.socket()
s.settimeout(5)
print(json.dumps({'connect': attempt(lambda a: s.connect(a), ('127.0.0.1', int(os.environ['PORT'])))}))
`;
    const env = { PORT: String(listenerPort) };
    const offline = await runTask(server, 'boxed', 'no-network', connect, { env });
    expect(offline.done.state).toBe('succeeded');
    // Its own loopback is up but empty: nothing on the host is reachable.
    expect(lastJson(offline.stdout)['connect']).toMatch(/^(ECONNREFUSED|ENETUNREACH)$/);
    expect(connections).toBe(0);

    const online = await runTask(server, 'boxed', 'with-network', connect, { env, network: true });
    expect(online.done.state).toBe('succeeded');
    expect(lastJson(online.stdout)['connect']).toBe('ok');
    expect(connections).toBe(1);
  });

  it('bounds a fork bomb by the process limit', async () => {
    const { done, task, stdout } = await runTask(server, 'boxed', 'fork-bomb', `
import errno, json, os, time
children, refused = [], None
for i in range(500):
    try:
        pid = os.fork()
    except OSError as e:
        refused = errno.errorcode[e.errno]
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.kill(pid, 9)
print(json.dumps({'forked': len(children), 'refused': refused}))
`, { limits: { processes: 100 } });
    // Linux counts the task user's processes and threads machine-wide: for an unprivileged agent
    // that user is the agent's (a dozen threads of its own), so the limit leaves room for them.
    expect([done.state, task.reason]).toEqual(['succeeded', null]);
    const result = lastJson(stdout);
    expect(result['refused']).toBe('EAGAIN');
    expect(result['forked']).toBeLessThan(100);
  });

  it('caps memory per process (RLIMIT_DATA), open files and CPU time', async () => {
    const memory = await runTask(server, 'boxed', 'memory-hog', `
try:
    block = bytearray(600 * 2**20)
    print('allocated')
except MemoryError:
    print('MemoryError')
`, { resources: { memory: '64Mi' } });
    expect(memory.stdout.trim()).toBe('MemoryError');

    const files = await runTask(server, 'boxed', 'fd-hog', `${TRY_PATHS}
held = []
try:
    for i in range(1000):
        held.append(open('/dev/null'))
    print(json.dumps({'opened': len(held), 'error': None}))
except OSError as e:
    print(json.dumps({'opened': len(held), 'error': errno.errorcode[e.errno]}))
`, { limits: { openFiles: 64 } });
    expect(lastJson(files.stdout)).toMatchObject({ error: 'EMFILE' });
    expect(lastJson(files.stdout)['opened']).toBeLessThan(64);

    const cpu = await runTask(server, 'boxed', 'spinner', 'while True: pass', { limits: { cpuTime: '1s' }, timeout: '2m' });
    expect(cpu.done.state).toBe('failed');
    expect(cpu.task.reason).toContain('SIGXCPU');
    expect(cpu.task.reason).toContain('CPU time limit of 1s');
  });

  it('delivers SIGTERM to the task through bwrap on a timeout, within its kill grace', async () => {
    const job = await server.client.submitJob({
      name: 'time-me-out', timeout: '1s', killGrace: '20s', placement: { require: [{ key: 'name', operator: 'In', values: ['boxed'] }] },
      command: ['sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo started; sleep 987.321 & wait'],
    });
    expect((await waitForJobEnd(server.client, job.id)).state).toBe('failed');
    const task = await server.client.getTask(`${job.id}.0`);
    expect(task.reason).toBe('timed out after 1s');
    // The trap ran: bwrap ignored the SIGTERM and the task, not bwrap, decided when to end.
    expect((await server.client.getLogs(task.id)).items.map((c) => c.data).join('')).toBe('started\ngot TERM\n');
    await waitFor(() => (processesWith('987.321').length === 0 ? true : undefined), 10_000, 'no sleep 987.321 left');
  });

  it('stops every process of a cancelled task, even one that left the process group', async () => {
    const job = await server.client.submitJob({
      name: 'cancel-me', killGrace: '1s', placement: { require: [{ key: 'name', operator: 'In', values: ['boxed'] }] },
      command: ['sh', '-c', 'setsid sleep 987.654 & echo started; sleep 987.655'],
    });
    await waitFor(() => (processesWith('987.654').length > 0 && processesWith('987.655').length > 0 ? true : undefined), 20_000, 'the task to start');
    await server.client.cancelJob(job.id);
    expect((await waitForJobEnd(server.client, job.id)).state).toBe('cancelled');
    // setsid took one sleep out of the group; the pid namespace ends with bwrap, and it with it.
    await waitFor(() => (processesWith('987.654').length === 0 && processesWith('987.655').length === 0 ? true : undefined), 15_000, 'no sleep left');
  });

  it('runs ordinary tasks as before: environment, input and output dirs, a missing program', async () => {
    const ok = await runTask(server, 'boxed', 'plain', 'import os; print(os.environ["ATOLL_NODE"], os.environ["ATOLL_INPUT_DIR"], os.environ["ATOLL_OUTPUT_DIR"], os.environ["TMPDIR"])');
    expect(ok.stdout.trim()).toBe('boxed /atoll/input /atoll/output /tmp');
    const job = await server.client.submitJob({ name: 'missing', command: ['atoll-no-such-program-xyz'], placement: { require: [{ key: 'name', operator: 'In', values: ['boxed'] }] } });
    await waitForJobEnd(server.client, job.id);
    expect((await server.client.getTask(`${job.id}.0`)).reason).toBe('executable not found: "atoll-no-such-program-xyz" (is it installed and on PATH?)');
  });
});

/** Pids whose command line holds `needle`. */
function processesWith(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) pids.push(Number(name));
    } catch {
      // The process ended between readdir and read: it holds nothing then.
    }
  }
  return pids;
}

describe('an agent without bubblewrap', () => {
  let server: ServerProc;
  const agents: Proc[] = [];
  // A PATH with what the tasks need but no bwrap, as on a machine without the package.
  const bin = tempDir('no-bwrap-bin');

  beforeAll(async () => {
    for (const tool of ['sh', 'cat', 'echo', 'true']) {
      const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
      if (found) symlinkSync(found, join(bin, tool));
    }
    server = await startServer({ extraArgs: ['--heartbeat', '500ms'] });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGTERM')));
    await server?.kill('SIGKILL');
  });

  function startWithoutBwrap(name: string, extra: string[]): Proc {
    const dataDir = tempDir(`agent-${name}`);
    mkdirSync(dataDir, { recursive: true });
    const proc = startProcess(['agent', '--server', server.url, '--join-token', server.joinToken, '--data-dir', dataDir, '--name', name,
      '--provider', 'local', '--region', 'test', '--jurisdiction', 'DE', '--cpu', '2', '--memory', '4Gi', '--label', `name=${name}`, ...extra], { env: { PATH: bin } });
    agents.push(proc);
    return proc;
  }

  it('says so at start and fails every task with how to fix it', async () => {
    const agent = startWithoutBwrap('strict', []);
    await waitForReadyNodes(server.client, 1);
    expect(agent.output()).toMatch(/cannot sandbox tasks: bubblewrap \(bwrap\) is not on PATH.*--allow-unsandboxed/);
    const node = (await server.client.listNodes({})).items.find((n) => n.name === 'strict');
    expect(node?.labels['atoll.dev/sandbox']).toBe('none');
    const job = await server.client.submitJob({ name: 'refused', command: ['true'], placement: { require: [{ key: 'name', operator: 'In', values: ['strict'] }] } });
    expect((await waitForJobEnd(server.client, job.id)).state).toBe('failed');
    const task = await server.client.getTask(`${job.id}.0`);
    expect(task.reason).toContain('node strict cannot sandbox tasks: bubblewrap (bwrap) is not on PATH: install it');
    expect(task.reason).toContain('--allow-unsandboxed');
  });

  it('runs tasks unsandboxed with --allow-unsandboxed, after a warning', async () => {
    const agent = startWithoutBwrap('lenient', ['--allow-unsandboxed']);
    await waitForReadyNodes(server.client, 2);
    expect(agent.output()).toContain('tasks run WITHOUT a sandbox (--allow-unsandboxed)');
    const job = await server.client.submitJob({ name: 'allowed', command: ['sh', '-c', 'echo "work in $HOME"'], placement: { require: [{ key: 'name', operator: 'In', values: ['lenient'] }] } });
    expect((await waitForJobEnd(server.client, job.id)).state).toBe('succeeded');
    const logs = (await server.client.getLogs(`${job.id}.0`)).items.map((c) => c.data).join('');
    // Unsandboxed, the task sees its real host work dir, not /atoll/work.
    expect(logs).toMatch(/^work in \/.*\/attempts\/.*\/work\n$/);
  });
});
