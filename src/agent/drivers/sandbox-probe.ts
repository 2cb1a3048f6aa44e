import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, lstat, mkdir, readdir, readlink, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { sandboxArgv, type RootEntry, type SandboxHost } from './bwrap-sandbox.js';
import { resolveLimits } from './task-limits.js';

// Finds out at agent start whether tasks can be sandboxed here: the programs on PATH, the host's
// `/`, the paths to hide, and one trial run through the whole chain (bwrap can be installed and
// still be unable to make namespaces, e.g. in a container without the privilege to).

/** How the exec driver runs tasks. */
export type SandboxMode =
  | { readonly kind: 'bwrap'; readonly host: SandboxHost }
  /** Plain processes: on purpose (--allow-unsandboxed, tests of the driver) or where no sandbox exists. */
  | { readonly kind: 'none' }
  /** No sandbox and none allowed: every attempt fails with this reason. */
  | { readonly kind: 'refuse'; readonly reason: string };

export type ProbeResult = { readonly ok: true; readonly host: SandboxHost } | { readonly ok: false; readonly problem: string };

export interface ProbeOptions {
  /** Host paths tasks must not see (the agent's data dir, its join token file). */
  readonly hide: readonly string[];
  /** Host paths tasks may read at the same path (`atoll agent --expose`); each must exist. */
  readonly expose?: readonly string[];
  /** A directory the trial run may use (it is removed afterwards). */
  readonly scratchDir: string;
  /** Where to look for the programs; default $PATH. */
  readonly pathEnv?: string;
}

const execFileAsync = promisify(execFile);
const TRIAL_TIMEOUT_MS = 15_000;

export async function probeSandbox(options: ProbeOptions): Promise<ProbeResult> {
  if (process.platform !== 'linux') return { ok: false, problem: `tasks are sandboxed with bubblewrap, which needs Linux; this is ${process.platform}` };
  const pathEnv = options.pathEnv ?? process.env['PATH'] ?? '';
  const bwrap = await findOnPath('bwrap', pathEnv);
  if (bwrap === null) return { ok: false, problem: 'bubblewrap (bwrap) is not on PATH: install it (Debian/Ubuntu: apt-get install bubblewrap, Fedora: dnf install bubblewrap)' };
  const root = process.getuid?.() === 0;
  const needed = { prlimit: 'util-linux', env: 'coreutils', ...(root ? { setpriv: 'util-linux' } : {}) };
  const found: Record<string, string> = {};
  for (const [name, pkg] of Object.entries(needed)) {
    const at = await findOnPath(name, pathEnv);
    if (at === null) return { ok: false, problem: `${name} (package ${pkg}) is not on PATH; the sandbox needs it next to bwrap` };
    if (at.includes('=')) return { ok: false, problem: `${at}: the sandbox cannot run a program whose path holds "="` };
    found[name] = at;
  }
  const host: SandboxHost = {
    bwrap, prlimit: found['prlimit']!, env: found['env']!, setpriv: found['setpriv'] ?? null,
    rootEntries: await rootEntries(),
    hidden: await hiddenPaths(options.hide),
    exposed: await Promise.all((options.expose ?? []).map((p) => realpath(p))),
    scratch: await existingDirs(['/var/tmp']),
    resolvConf: await resolvConfInRun(),
  };
  const problem = await trialRun(host, options.scratchDir);
  return problem === null ? { ok: true, host } : { ok: false, problem };
}

async function findOnPath(name: string, pathEnv: string): Promise<string | null> {
  for (const dir of pathEnv.split(':')) {
    if (!path.isAbsolute(dir)) continue; // a relative PATH entry would depend on the agent's cwd
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch (error) {
      // Not there (or not executable): keep looking in the next PATH entry.
      if (!['ENOENT', 'EACCES', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  }
  return null;
}

async function rootEntries(): Promise<RootEntry[]> {
  const entries: RootEntry[] = [];
  for (const entry of await readdir('/', { withFileTypes: true })) {
    if (entry.isSymbolicLink()) entries.push({ name: entry.name, kind: 'symlink', target: await readlink(`/${entry.name}`) });
    else if (entry.isDirectory()) entries.push({ name: entry.name, kind: 'dir' });
    else if (entry.isFile()) entries.push({ name: entry.name, kind: 'file' });
    // Sockets and devices at the top of / are not something a task needs to see.
  }
  return entries;
}

async function hiddenPaths(paths: readonly string[]): Promise<{ path: string; kind: 'dir' | 'file' }[]> {
  const hidden: { path: string; kind: 'dir' | 'file' }[] = [];
  for (const p of paths) {
    // Hidden by their real path: that is the one the sandbox's bind of the host's / shows.
    const real = await realpath(p).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null; // nothing there to see
      throw error;
    });
    if (real === null) continue;
    hidden.push({ path: real, kind: (await stat(real)).isDirectory() ? 'dir' : 'file' });
  }
  return hidden;
}

async function existingDirs(dirs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) {
    const info = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null; // no /var/tmp on this machine: nothing to replace
      throw error;
    });
    if (info?.isDirectory()) found.push(dir);
  }
  return found;
}

/** systemd-resolved makes /etc/resolv.conf a link into /run, which the sandbox replaces. */
async function resolvConfInRun(): Promise<SandboxHost['resolvConf']> {
  const link = '/etc/resolv.conf';
  const info = await lstat(link).catch(ifMissing(null)); // no resolv.conf: tasks resolve names as the host does, i.e. not at all
  if (!info?.isSymbolicLink()) return null;
  const target = path.resolve('/etc', await readlink(link));
  if (!target.startsWith('/run/')) return null;
  const real = await realpath(link).catch(ifMissing(null)); // a dangling link: nothing to bind back
  return real === null ? null : { target, real };
}

/** A catch handler: `value` for ENOENT, any other error goes on. */
function ifMissing<T>(value: T): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    if (error.code === 'ENOENT') return value;
    throw error;
  };
}

/** Runs `true` through the whole chain; null when it worked, else what went wrong. */
async function trialRun(host: SandboxHost, scratchDir: string): Promise<string | null> {
  const dirs = { work: path.join(scratchDir, 'work'), input: path.join(scratchDir, 'input'), output: path.join(scratchDir, 'output'), tmp: path.join(scratchDir, 'tmp') };
  await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));
  const limits = resolveLimits({ memoryBytes: 0, cpuMillis: 1000, timeoutMs: null });
  const { file, args } = sandboxArgv(host, { dirs, limits, network: false, command: ['true'] });
  try {
    await execFileAsync(file, args, { timeout: TRIAL_TIMEOUT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    return null;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    return `bwrap is installed but could not start a sandboxed process here: ${(stderr ?? '').trim() || message}`;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}
