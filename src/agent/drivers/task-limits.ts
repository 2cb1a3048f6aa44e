import type { AttemptAssignment } from '../../protocol/messages.js';

// The kernel ceilings (setrlimit, applied with util-linux `prlimit`) every process of a sandboxed
// task runs under. They are per process, not per task: a task's total belongs to cgroups, which
// need a delegated cgroup tree this agent cannot count on. What they stop is one runaway process
// taking the node down: a leak, a fork bomb, a spin with no timeout to end it, a descriptor leak.

/** No runtime we know of starts below this much heap, so smaller reservations get this much. */
export const MIN_DEFAULT_MEMORY_BYTES = 256 * 2 ** 20;
/** Processes and threads of the task's user (Linux counts RLIMIT_NPROC per user, not per process tree). */
export const DEFAULT_PROCESSES = 1024;
export const DEFAULT_OPEN_FILES = 4096;
/** CPU time allowed per second of timeout per reserved core (at least one core). */
export const CPU_TIME_PER_TIMEOUT = 2;
/** CPU seconds between SIGXCPU (soft limit, a process may catch it to save its work) and SIGKILL (hard). */
export const CPU_GRACE_SECONDS = 5;

export interface ResolvedLimits {
  /** RLIMIT_DATA: private writable memory (heap, anonymous mappings). */
  readonly memoryBytes: number;
  /** RLIMIT_CPU in whole seconds; null: no limit (the task has no timeout to derive it from). */
  readonly cpuSeconds: number | null;
  readonly processes: number;
  readonly openFiles: number;
}

/**
 * The spec's `limits`, with what it leaves out derived from the task: memory from its reserved
 * memory (at least MIN_DEFAULT_MEMORY_BYTES), CPU time from its timeout.
 */
export function resolveLimits(assignment: Pick<AttemptAssignment, 'memoryBytes' | 'cpuMillis' | 'timeoutMs' | 'limits'>): ResolvedLimits {
  const given = assignment.limits ?? {};
  const cores = Math.max(1, assignment.cpuMillis / 1000);
  const derivedCpu = assignment.timeoutMs === null ? null : Math.ceil((assignment.timeoutMs / 1000) * cores * CPU_TIME_PER_TIMEOUT);
  return {
    memoryBytes: given.memory ?? Math.max(assignment.memoryBytes, MIN_DEFAULT_MEMORY_BYTES),
    cpuSeconds: given.cpuTime !== undefined ? Math.ceil(given.cpuTime / 1000) : derivedCpu,
    processes: given.processes ?? DEFAULT_PROCESSES,
    openFiles: given.openFiles ?? DEFAULT_OPEN_FILES,
  };
}

/**
 * `prlimit` options setting soft and hard limit alike (so the task cannot raise them; CPU time
 * keeps a few seconds between SIGXCPU and SIGKILL), and no core
 * dumps (a dump of a task could hold its secrets and fill the disk). Not RLIMIT_AS: V8, the JVM
 * and Go reserve far more address space than they ever use and fail to start under it, while
 * RLIMIT_DATA counts only memory that can actually be written.
 */
export function prlimitArgs(limits: ResolvedLimits): string[] {
  const both = (name: string, value: number) => `--${name}=${value}:${value}`;
  return [
    both('data', limits.memoryBytes),
    ...(limits.cpuSeconds === null ? [] : [`--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + CPU_GRACE_SECONDS}`]),
    both('nproc', limits.processes),
    both('nofile', limits.openFiles),
    both('core', 0),
  ];
}

/** Words for a signal that ended a task, naming the limit when it is one that limits send. */
export function signalMeaning(signal: string, limits: ResolvedLimits): string {
  if (signal === 'SIGXCPU' && limits.cpuSeconds !== null) return `SIGXCPU: it used its CPU time limit of ${limits.cpuSeconds}s (raise limits.cpuTime or timeout)`;
  if (signal === 'SIGXFSZ') return 'SIGXFSZ: it wrote a file larger than allowed';
  return signal;
}
