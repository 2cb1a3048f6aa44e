import path from 'node:path';
import { prlimitArgs, type ResolvedLimits } from './task-limits.js';

// How a task runs under bubblewrap: the argument list, and where the task's paths lie on the host.
// Pure functions over what sandbox-probe.ts found at start-up, so they are tested without bwrap.
// See README.md in this folder ("Sandbox") for the view a task gets and why each part is there.

/** Where a sandboxed task finds its attempt's directories, whatever the agent's data dir is. */
export const SANDBOX_DIRS = { work: '/atoll/work', input: '/atoll/input', output: '/atoll/output', tmp: '/tmp', secrets: '/atoll/secrets' } as const;
/** The host user a task runs as when the agent runs as root (the exec driver's `nobody`, as in Nomad). */
export const TASK_UID = 65534;
export const TASK_GID = 65534;
/** Top-level host entries a task never sees: the sandbox makes its own /proc, /dev, /tmp, /run, /atoll. */
const REPLACED_TOP_LEVEL = new Set(['proc', 'dev', 'tmp', 'run', 'atoll']);

/** A top-level entry of the host's `/`. */
export type RootEntry = { readonly name: string; readonly kind: 'dir' | 'file' } | { readonly name: string; readonly kind: 'symlink'; readonly target: string };

/** What the agent found on this machine at start: the programs, the host's `/`, what to hide. */
export interface SandboxHost {
  readonly bwrap: string;
  readonly prlimit: string;
  /** coreutils env: ignores SIGTERM for bwrap and restores it for the task (see sandboxArgv). */
  readonly env: string;
  /** util-linux setpriv when the agent runs as root (tasks then run as TASK_UID); null otherwise. */
  readonly setpriv: string | null;
  readonly rootEntries: readonly RootEntry[];
  /** Host paths (real, absolute) a task must not see: the agent's data dir, its join token file. */
  readonly hidden: readonly { readonly path: string; readonly kind: 'dir' | 'file' }[];
  /**
   * Host paths (real, absolute) shown read-only at the same path, even where the sandbox would
   * otherwise replace them (/tmp, /run, /var/tmp): tools or scripts the operator lets tasks use.
   * Hidden paths inside them stay hidden.
   */
  readonly exposed: readonly string[];
  /** Host scratch dirs under a visible top-level dir (/var/tmp): a private empty one each. */
  readonly scratch: readonly string[];
  /** When /etc/resolv.conf links into /run (systemd-resolved), the link's absolute target, bound back for tasks with network. */
  readonly resolvConf: { readonly target: string; readonly real: string } | null;
}

/** One attempt to run: its host directories, limits, network and argv. */
export interface SandboxedRun {
  readonly dirs: { readonly work: string; readonly input: string; readonly output: string; readonly tmp: string };
  /** The attempt's secrets dir when it has file secrets: shown read-only at SANDBOX_DIRS.secrets. */
  readonly secrets?: string;
  readonly limits: ResolvedLimits;
  readonly network: boolean;
  readonly command: readonly [string, ...string[]];
  /** A descriptor bwrap writes to (then closes) once the namespaces exist: the driver's start gate opens then. */
  readonly infoFd?: number;
}

/**
 * The program and arguments that run `run.command` sandboxed:
 * `prlimit … -- env --ignore-signal=TERM -- bwrap … -- [setpriv … --] env --default-signal=TERM -- command`.
 * Each wrapper execs the next, so the spawned pid is bwrap's and its process group is the task's.
 * bwrap ignores SIGTERM so that the driver's SIGTERM to the group reaches the task and the task
 * alone decides when to exit within its kill grace; SIGKILL still ends bwrap, and with it (as
 * the pid namespace's init dies) every process of the task, even ones that left the group.
 */
export function sandboxArgv(host: SandboxHost, run: SandboxedRun): { file: string; args: string[] } {
  const bwrapArgs = [
    ...(run.infoFd === undefined ? [] : ['--info-fd', String(run.infoFd)]),
    '--die-with-parent',
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    ...(run.network ? [] : ['--unshare-net']),
    // Unprivileged bwrap needs a user namespace for its mounts; as root it must not make one, or
    // setpriv could not switch to TASK_UID (the namespace would map root alone).
    ...(host.setpriv === null ? ['--unshare-user'] : []),
    ...rootView(host.rootEntries),
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '0755', '--tmpfs', '/run',
    ...(run.network && host.resolvConf !== null ? ['--ro-bind', host.resolvConf.real, host.resolvConf.target] : []),
    ...host.scratch.filter((dir) => underRootView(host, dir)).flatMap((dir) => ['--perms', '1777', '--tmpfs', dir]),
    // Read-only too: for an unprivileged agent the task owns the tmpfs (its namespace's user made it).
    ...outermostHidden(host).flatMap((h) => (h.kind === 'dir' ? ['--perms', '0700', '--tmpfs', h.path, '--remount-ro', h.path] : ['--ro-bind', '/dev/null', h.path])),
    '--perms', '0755', '--dir', '/atoll',
    '--bind', run.dirs.work, SANDBOX_DIRS.work,
    '--ro-bind', run.dirs.input, SANDBOX_DIRS.input,
    '--bind', run.dirs.output, SANDBOX_DIRS.output,
    '--bind', run.dirs.tmp, SANDBOX_DIRS.tmp,
    ...(run.secrets === undefined ? [] : ['--ro-bind', run.secrets, SANDBOX_DIRS.secrets]),
    // Last, over the private dirs above; the agent's hidden paths inside them are masked again.
    ...host.exposed.flatMap((dir) => [...mountPointParents(host, dir), '--ro-bind', dir, dir]),
    ...hiddenInExposed(host).flatMap((h) => (h.kind === 'dir' ? ['--perms', '0700', '--tmpfs', h.path, '--remount-ro', h.path] : ['--ro-bind', '/dev/null', h.path])),
    '--chdir', SANDBOX_DIRS.work,
  ];
  const dropToTaskUser = host.setpriv === null
    ? []
    : [host.setpriv, `--reuid=${TASK_UID}`, `--regid=${TASK_GID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
  return {
    file: host.prlimit,
    args: [
      ...prlimitArgs(run.limits), '--',
      host.env, '--ignore-signal=TERM', '--',
      host.bwrap, ...bwrapArgs, '--',
      ...dropToTaskUser,
      host.env, '--default-signal=TERM', '--',
      ...run.command,
    ],
  };
}

/** The host's top-level entries, read-only, but for those the sandbox replaces. */
function rootView(entries: readonly RootEntry[]): string[] {
  return entries
    .filter((e) => !REPLACED_TOP_LEVEL.has(e.name))
    .flatMap((e) => {
      const at = `/${e.name}`;
      return e.kind === 'symlink' ? ['--symlink', e.target, at] : ['--ro-bind', at, at];
    });
}

/**
 * Hidden paths that need a mask of their own: under a top-level dir the sandbox shows (one in
 * /tmp is out of sight already) and not inside another hidden dir (the token file in the data
 * dir), whose read-only mask could not take a mount point for it.
 */
function outermostHidden(host: SandboxHost): SandboxHost['hidden'] {
  const shown = host.hidden.filter((h) => underRootView(host, h.path));
  return shown.filter((h) => !shown.some((other) => other !== h && other.kind === 'dir' && h.path.startsWith(`${other.path}/`)));
}

/**
 * The dirs leading to an exposed path inside a dir the sandbox replaced (the attempt's /tmp, a
 * private /run): made traversable (0755) for the task's user, where bwrap would make them for
 * the agent alone. Elsewhere they exist already, in the read-only host view.
 */
function mountPointParents(host: SandboxHost, exposed: string): string[] {
  const parts = exposed.split('/').filter((p) => p !== '');
  const parents = parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
  const replaced = (dir: string) => REPLACED_TOP_LEVEL.has(dir.split('/')[1] ?? '') || host.scratch.some((s) => dir.startsWith(`${s}/`));
  return parents.filter((dir) => replaced(dir) && dir.split('/').length > 2).flatMap((dir) => ['--perms', '0755', '--dir', dir]);
}

/** Hidden paths inside an exposed dir: bound back with it, so masked again after it. */
function hiddenInExposed(host: SandboxHost): SandboxHost['hidden'] {
  const inside = host.hidden.filter((h) => host.exposed.some((dir) => h.path === dir || h.path.startsWith(`${dir}/`)));
  return inside.filter((h) => !inside.some((other) => other !== h && other.kind === 'dir' && h.path.startsWith(`${other.path}/`)));
}

/** Whether a host path lies under a top-level entry the sandbox shows read-only. */
function underRootView(host: SandboxHost, hostPath: string): boolean {
  const top = hostPath.split('/')[1] ?? '';
  return !REPLACED_TOP_LEVEL.has(top) && host.rootEntries.some((e) => e.name === top);
}

/**
 * The host path behind a path as a sandboxed task sees it, or null when the task cannot see it
 * (hidden, replaced, or an attempt dir of another attempt). Used to check a program exists before
 * starting, so a missing one is reported as clearly as without a sandbox.
 */
export function hostPathOf(host: SandboxHost, run: Pick<SandboxedRun, 'dirs'>, sandboxPath: string): string | null {
  const p = path.posix.resolve(SANDBOX_DIRS.work, sandboxPath);
  const under = (dir: string) => p === dir || p.startsWith(`${dir}/`);
  // Exposed paths are bound last, over the attempt's /tmp too; hidden ones are masked even there.
  if (host.exposed.some(under)) return host.hidden.some((h) => under(h.path)) ? null : p;
  for (const key of ['work', 'input', 'output', 'tmp'] as const) {
    const root = SANDBOX_DIRS[key];
    if (p === root || p.startsWith(`${root}/`)) return run.dirs[key] + p.slice(root.length);
  }
  if (!underRootView(host, p)) return null;
  if (host.hidden.some((h) => under(h.path)) || host.scratch.some(under)) return null;
  return p;
}
