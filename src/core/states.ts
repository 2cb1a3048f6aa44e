// Lifecycle states and the one table of legal transitions for each. The state machine refuses
// anything not listed here, so a bug shows up as a refused transition, not corrupt state.

export const NODE_STATES = ['ready', 'unreachable', 'down', 'draining', 'cordoned', 'left'] as const;
export type NodeState = (typeof NODE_STATES)[number];
export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type TaskState = 'pending' | 'assigned' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type AttemptState = 'assigned' | 'running' | 'succeeded' | 'failed' | 'lost' | 'cancelled';
/** `waiting` for the stages it depends on; `skipped` when one of them failed or the job ended first. */
export type StageState = 'waiting' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

type Table<S extends string> = Readonly<Record<S, readonly S[]>>;

export const JOB_TRANSITIONS: Table<JobState> = {
  pending: ['running', 'succeeded', 'failed', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export const TASK_TRANSITIONS: Table<TaskState> = {
  // pending -> failed: no node can ever run it, or it was never placed before its job failed.
  pending: ['assigned', 'cancelled', 'failed'],
  // assigned/running -> pending: the attempt failed or was lost and the task will be retried.
  assigned: ['running', 'succeeded', 'failed', 'pending', 'cancelled'],
  running: ['succeeded', 'failed', 'pending', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export const ATTEMPT_TRANSITIONS: Table<AttemptState> = {
  assigned: ['running', 'succeeded', 'failed', 'lost', 'cancelled'],
  running: ['succeeded', 'failed', 'lost', 'cancelled'],
  succeeded: [],
  failed: [],
  lost: [],
  cancelled: [],
};

export const STAGE_TRANSITIONS: Table<StageState> = {
  // waiting -> failed: its inputs could not be resolved when it was due to start.
  waiting: ['running', 'failed', 'cancelled', 'skipped'],
  running: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
  skipped: [],
};

export function canTransition<S extends string>(table: Table<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}

export function isTerminalTask(state: TaskState): boolean {
  return TASK_TRANSITIONS[state].length === 0;
}

export function isTerminalJob(state: JobState): boolean {
  return JOB_TRANSITIONS[state].length === 0;
}

/** The node's agent is connected and heard from: ready, or taken out of placement by an operator. */
export function isConnectedNodeState(state: NodeState): boolean {
  return state === 'ready' || state === 'draining' || state === 'cordoned';
}

/** What a connected, healthy node shows, given the operator's cordon and drain. */
export function healthyNodeState(node: { readonly cordoned: boolean; readonly drainDeadline: number | null }): NodeState {
  if (node.drainDeadline !== null) return 'draining';
  return node.cordoned ? 'cordoned' : 'ready';
}
