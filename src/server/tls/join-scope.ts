// What a scoped join token lets a node claim. A node's pool is its `pool` label. A token with a
// pool or labels is a whitelist: the node must be in that pool and may carry only the labels the
// token lists, with the values it lists. An unscoped token (neither) lets a node claim anything.

export interface JoinScope {
  readonly pool: string | null;
  readonly labels: Readonly<Record<string, string>>;
}

export const POOL_LABEL = 'pool';
/** Labels the agent sets to report facts about itself (e.g. atoll.dev/sandbox), not claims a token limits. */
export const AGENT_LABEL_PREFIX = 'atoll.dev/';

/** Why `labels` are not allowed under `scope`, or undefined when they are. */
export function claimProblem(scope: JoinScope, labels: Readonly<Record<string, string>>): string | undefined {
  if (scope.pool === null && Object.keys(scope.labels).length === 0) return undefined;
  if (scope.pool !== null && labels[POOL_LABEL] !== scope.pool) {
    return `expected label ${POOL_LABEL}=${scope.pool}, got ${labels[POOL_LABEL] === undefined ? 'no pool label' : `${POOL_LABEL}=${labels[POOL_LABEL]}`}`;
  }
  for (const [key, value] of Object.entries(labels)) {
    if ((key === POOL_LABEL && scope.pool !== null) || key.startsWith(AGENT_LABEL_PREFIX)) continue;
    if (scope.labels[key] !== value) {
      return `label ${key}=${value} is not one the token allows (allowed: ${describeLabels(scope.labels)})`;
    }
  }
  return undefined;
}

export function describeScope(scope: JoinScope): string {
  if (scope.pool === null && Object.keys(scope.labels).length === 0) return 'unscoped';
  return [scope.pool === null ? undefined : `pool ${scope.pool}`, `labels ${describeLabels(scope.labels)}`].filter(Boolean).join(', ');
}

function describeLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}
