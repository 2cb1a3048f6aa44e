import { describe, expect, it } from 'vitest';
import { hostPathOf, sandboxArgv, type SandboxHost, type SandboxedRun } from './bwrap-sandbox.js';
import { prlimitArgs, resolveLimits } from './task-limits.js';

const host: SandboxHost = {
  bwrap: '/usr/bin/bwrap', prlimit: '/usr/bin/prlimit', env: '/usr/bin/env', setpriv: '/usr/bin/setpriv',
  rootEntries: [
    { name: 'usr', kind: 'dir' }, { name: 'etc', kind: 'dir' }, { name: 'var', kind: 'dir' }, { name: 'tmp', kind: 'dir' },
    { name: 'proc', kind: 'dir' }, { name: 'run', kind: 'dir' }, { name: 'bin', kind: 'symlink', target: 'usr/bin' },
  ],
  hidden: [
    { path: '/var/lib/atoll', kind: 'dir' }, { path: '/etc/atoll/join.token', kind: 'file' }, { path: '/tmp/other-agent', kind: 'dir' },
    { path: '/var/lib/atoll/join.token', kind: 'file' },
  ],
  exposed: [],
  scratch: ['/var/tmp'],
  resolvConf: { target: '/run/systemd/resolve/stub-resolv.conf', real: '/run/systemd/resolve/stub-resolv.conf' },
};

const run: SandboxedRun = {
  dirs: { work: '/var/lib/atoll/attempts/a1/work', input: '/var/lib/atoll/attempts/a1/input', output: '/var/lib/atoll/attempts/a1/output', tmp: '/var/lib/atoll/attempts/a1/tmp' },
  limits: { memoryBytes: 268_435_456, cpuSeconds: null, processes: 1024, openFiles: 4096 },
  network: false,
  command: ['python3', '-c', 'print(1)'],
};

/** The option pairs of a bwrap argument list, e.g. ['--ro-bind', '/usr', '/usr'] -> '--ro-bind /usr /usr'. */
function bwrapPart(args: readonly string[]): string[] {
  const start = args.indexOf('/usr/bin/bwrap');
  const end = args.indexOf('--', start);
  return args.slice(start + 1, end);
}

describe('sandboxArgv', () => {
  it('chains prlimit, env, bwrap, setpriv and env in that order, ending with the command as given', () => {
    const { file, args } = sandboxArgv(host, run);
    expect(file).toBe('/usr/bin/prlimit');
    const programs = args.filter((a) => a.startsWith('/usr/bin/'));
    expect(programs).toEqual(['/usr/bin/env', '/usr/bin/bwrap', '/usr/bin/setpriv', '/usr/bin/env']);
    expect(args.slice(args.indexOf('/usr/bin/env'), args.indexOf('/usr/bin/env') + 2)).toEqual(['/usr/bin/env', '--ignore-signal=TERM']);
    expect(args.slice(-6)).toEqual(['/usr/bin/env', '--default-signal=TERM', '--', 'python3', '-c', 'print(1)']);
    expect(args).toContain('--reuid=65534');
    expect(args).toContain('--no-new-privs');
  });

  it('shows the host read-only but for what it replaces, and hides the data dir and token file', () => {
    const bw = bwrapPart(sandboxArgv(host, run).args).join(' ');
    expect(bw).toContain('--ro-bind /usr /usr');
    expect(bw).toContain('--ro-bind /etc /etc');
    expect(bw).toContain('--symlink usr/bin /bin');
    // /proc, /tmp and /run are the sandbox's own, never the host's.
    for (const replaced of ['/proc', '/tmp', '/run']) expect(bw).not.toContain(`--ro-bind ${replaced} ${replaced}`);
    expect(bw).toContain('--perms 0700 --tmpfs /var/lib/atoll --remount-ro /var/lib/atoll');
    expect(bw).toContain('--ro-bind /dev/null /etc/atoll/join.token');
    // Under the sandbox's own /tmp already, or inside the hidden data dir: no mask of their own.
    expect(bw).not.toContain('/tmp/other-agent');
    expect(bw).not.toContain('/var/lib/atoll/join.token');
    expect(bw).toContain('--perms 1777 --tmpfs /var/tmp');
  });

  it('binds the attempt dirs after the mask that hides their parent, input read-only', () => {
    const bw = bwrapPart(sandboxArgv(host, run).args);
    const joined = bw.join(' ');
    expect(joined).toContain('--bind /var/lib/atoll/attempts/a1/work /atoll/work');
    expect(joined).toContain('--ro-bind /var/lib/atoll/attempts/a1/input /atoll/input');
    expect(joined).toContain('--bind /var/lib/atoll/attempts/a1/output /atoll/output');
    expect(joined).toContain('--bind /var/lib/atoll/attempts/a1/tmp /tmp');
    expect(bw.indexOf('/atoll/work')).toBeGreaterThan(bw.indexOf('/var/lib/atoll'));
    expect(joined).toContain('--chdir /atoll/work');
  });

  it('shows the attempt\'s secrets dir read-only at /atoll/secrets only when it has file secrets', () => {
    const bw = bwrapPart(sandboxArgv(host, { ...run, secrets: '/data/attempts/j.0.1/secrets' }).args);
    const at = bw.indexOf('/atoll/secrets');
    expect(bw.slice(at - 2, at + 1)).toEqual(['--ro-bind', '/data/attempts/j.0.1/secrets', '/atoll/secrets']);
    expect(bwrapPart(sandboxArgv(host, run).args)).not.toContain('/atoll/secrets');
  });

  it('shows exposed paths read-only over the private /tmp, masking hidden paths inside them again', () => {
    const exposing = { ...host, exposed: ['/tmp/repo/examples', '/tmp'], hidden: [...host.hidden, { path: '/tmp/repo/examples/.atoll', kind: 'dir' as const }] };
    const bw = bwrapPart(sandboxArgv(exposing, run).args);
    const privateTmp = bw.lastIndexOf('/tmp', bw.indexOf('--chdir'));
    const exposedAt = bw.indexOf('/tmp/repo/examples');
    expect(bw.slice(exposedAt - 5, exposedAt + 2)).toEqual(['--perms', '0755', '--dir', '/tmp/repo', '--ro-bind', '/tmp/repo/examples', '/tmp/repo/examples']);
    expect(exposedAt).toBeGreaterThan(bw.indexOf(run.dirs.tmp));
    expect(privateTmp).toBeGreaterThan(exposedAt);
    // Masked after the binds that would show them: the hidden dir in the exposed one, and the other agent's dir under /tmp.
    const joined = bw.join(' ');
    expect(joined.indexOf('--tmpfs /tmp/repo/examples/.atoll --remount-ro /tmp/repo/examples/.atoll')).toBeGreaterThan(joined.indexOf('--ro-bind /tmp /tmp'));
    expect(joined.indexOf('--tmpfs /tmp/other-agent')).toBeGreaterThan(joined.indexOf('--ro-bind /tmp /tmp'));
    expect(hostPathOf(exposing, run, '/tmp/repo/examples/score.mjs')).toBe('/tmp/repo/examples/score.mjs');
    expect(hostPathOf(exposing, run, '/tmp/repo/examples/.atoll/node-credential.json')).toBeNull();
    // Not exposed: /tmp is the attempt's own.
    expect(hostPathOf(host, run, '/tmp/repo/examples/score.mjs')).toBe(`${run.dirs.tmp}/repo/examples/score.mjs`);
  });

  it('unshares the network unless asked for it, and binds resolv.conf back only with network', () => {
    const offline = bwrapPart(sandboxArgv(host, run).args);
    expect(offline).toContain('--unshare-net');
    expect(offline.join(' ')).not.toContain('stub-resolv.conf');
    const online = bwrapPart(sandboxArgv(host, { ...run, network: true }).args);
    expect(online).not.toContain('--unshare-net');
    expect(online.join(' ')).toContain('--ro-bind /run/systemd/resolve/stub-resolv.conf /run/systemd/resolve/stub-resolv.conf');
    for (const args of [offline, online]) expect(args).toEqual(expect.arrayContaining(['--unshare-pid', '--die-with-parent', '--unshare-ipc']));
  });

  it('reports on the info descriptor only when given one (the probe has none)', () => {
    expect(bwrapPart(sandboxArgv(host, { ...run, infoFd: 3 }).args).slice(0, 2)).toEqual(['--info-fd', '3']);
    expect(bwrapPart(sandboxArgv(host, run).args)).not.toContain('--info-fd');
  });

  it('uses a user namespace instead of setpriv when the agent is not root', () => {
    const { args } = sandboxArgv({ ...host, setpriv: null }, run);
    expect(bwrapPart(args)).toContain('--unshare-user');
    expect(args.some((a) => a.includes('setpriv') || a.startsWith('--reuid'))).toBe(false);
  });
});

describe('hostPathOf', () => {
  it.each([
    ['python3', '/var/lib/atoll/attempts/a1/work/python3'],
    ['./run.sh', '/var/lib/atoll/attempts/a1/work/run.sh'],
    ['/atoll/input/d/p', '/var/lib/atoll/attempts/a1/input/d/p'],
    ['/tmp/x', '/var/lib/atoll/attempts/a1/tmp/x'],
    ['/usr/bin/python3', '/usr/bin/python3'],
    ['/bin/sh', '/bin/sh'],
    ['/var/lib/atoll/node-credential.json', null],
    ['/var/tmp/x', null],
    ['/run/docker.sock', null],
    ['/home/someone/tool', null],
  ])('%s -> %s', (sandboxPath, expected) => {
    expect(hostPathOf(host, run, sandboxPath)).toBe(expected);
  });
});

describe('limits', () => {
  const base = { memoryBytes: 64 * 2 ** 20, cpuMillis: 100, timeoutMs: null };

  it.each([
    ['a small reservation gets the 256 MiB floor, no CPU limit without a timeout', base, { memoryBytes: 256 * 2 ** 20, cpuSeconds: null, processes: 1024, openFiles: 4096 }],
    ['memory above the floor is the reservation', { ...base, memoryBytes: 2 * 2 ** 30 }, { memoryBytes: 2 * 2 ** 30 }],
    ['CPU time is twice the timeout on one core', { ...base, timeoutMs: 30_000 }, { cpuSeconds: 60 }],
    ['and scales with reserved cores', { ...base, cpuMillis: 4000, timeoutMs: 30_000 }, { cpuSeconds: 240 }],
    ['a spec limit wins', { ...base, timeoutMs: 30_000, limits: { memory: 32 * 2 ** 20, cpuTime: 1500, processes: 40, openFiles: 64 } }, { memoryBytes: 32 * 2 ** 20, cpuSeconds: 2, processes: 40, openFiles: 64 }],
  ])('%s', (_name, assignment, expected) => {
    expect(resolveLimits(assignment)).toMatchObject(expected);
  });

  it('sets soft and hard alike (CPU keeps a grace between SIGXCPU and SIGKILL) and no core dumps', () => {
    expect(prlimitArgs({ memoryBytes: 1000, cpuSeconds: 10, processes: 5, openFiles: 6 })).toEqual([
      '--data=1000:1000', '--cpu=10:15', '--nproc=5:5', '--nofile=6:6', '--core=0:0',
    ]);
    expect(prlimitArgs({ memoryBytes: 1000, cpuSeconds: null, processes: 5, openFiles: 6 }).some((a) => a.startsWith('--cpu'))).toBe(false);
  });
});
