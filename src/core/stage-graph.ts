import type { FieldProblem } from './errors.js';

// The stages of a job as a graph: checks that `dependsOn` names real stages and forms no cycle,
// and answers which stages a stage waits for (directly or not) and which stages of the job write a
// dataset, so a stage reading another stage's output is resolved when that output exists.

/** What the graph needs of a stage; the job spec's stages satisfy it. */
export interface StageNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly inputs: readonly { readonly dataset: string; readonly partitions?: readonly string[] | undefined }[];
  readonly forEach?: { readonly dataset: string; readonly partitions?: readonly string[] | undefined } | undefined;
  readonly output?: { readonly dataset: string } | undefined;
}

/** Problems with names, dependencies and data flow between stages, with their paths. */
export function stageGraphProblems(stages: readonly StageNode[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const firstIndex = new Map<string, number>();
  stages.forEach((stage, i) => {
    const first = firstIndex.get(stage.name);
    if (first === undefined) firstIndex.set(stage.name, i);
    else problems.push({ path: `stages[${i}].name`, message: `stage "${stage.name}" is already defined at stages[${first}]; stage names must be unique` });
  });
  const names = [...firstIndex.keys()].join(', ');
  stages.forEach((stage, i) => {
    stage.dependsOn.forEach((dep, k) => {
      const path = `stages[${i}].dependsOn[${k}]`;
      if (dep === stage.name) problems.push({ path, message: `stage "${stage.name}" cannot depend on itself` });
      else if (!firstIndex.has(dep)) problems.push({ path, message: `no stage named "${dep}"; the stages are ${names}` });
    });
  });
  if (problems.length > 0) return problems;
  const cycle = findCycle(stages, firstIndex);
  if (cycle !== undefined) return [{ path: 'stages', message: `stages ${cycle.join(' -> ')} depend on each other in a cycle; a stage can only wait for stages that do not wait for it` }];
  stages.forEach((stage, i) => {
    const ancestors = stageAncestors(stages, i);
    const reads = [
      ...stage.inputs.map((input, k) => ({ read: input, path: `stages[${i}].inputs[${k}]` })),
      ...(stage.forEach === undefined ? [] : [{ read: stage.forEach, path: `stages[${i}].forEach` }]),
    ];
    for (const { read, path } of reads) {
      const writers = writersOf(stages, read.dataset, i);
      if (writers.length === 0) continue;
      for (const writer of writers.filter((w) => !ancestors.has(w))) {
        const name = stages[writer]!.name;
        problems.push({ path: `${path}.dataset`, message: `dataset "${read.dataset}" is written by stage "${name}" of this job; add "${name}" to dependsOn so this stage starts after it` });
      }
      if (read.partitions !== undefined) {
        problems.push({ path: `${path}.partitions`, message: `partitions of "${read.dataset}" are named by the stages that write them when they run; leave partitions out` });
      }
    }
  });
  return problems;
}

/** Indices of every stage `index` waits for, directly or through others. The graph must be acyclic. */
export function stageAncestors(stages: readonly StageNode[], index: number): ReadonlySet<number> {
  const byName = new Map(stages.map((s, i) => [s.name, i]));
  const seen = new Set<number>();
  const stack = [index];
  while (stack.length > 0) {
    for (const dep of stages[stack.pop()!]!.dependsOn) {
      const d = byName.get(dep);
      if (d !== undefined && !seen.has(d)) {
        seen.add(d);
        stack.push(d);
      }
    }
  }
  return seen;
}

/**
 * Stages of the job other than `reader` that write `dataset`. A stage reading its own output
 * dataset reads what existed before (at submit), as a single-stage job always has.
 */
export function writersOf(stages: readonly StageNode[], dataset: string, reader: number): number[] {
  const writers: number[] = [];
  stages.forEach((stage, i) => {
    if (i !== reader && stage.output?.dataset === dataset) writers.push(i);
  });
  return writers;
}

/** One cycle of stage names (first repeated at the end), or undefined when the graph is acyclic. */
function findCycle(stages: readonly StageNode[], byName: ReadonlyMap<string, number>): string[] | undefined {
  const state = new Uint8Array(stages.length); // 0 unseen, 1 on the current path, 2 done
  const path: number[] = [];
  const visit = (i: number): string[] | undefined => {
    state[i] = 1;
    path.push(i);
    for (const dep of stages[i]!.dependsOn) {
      const d = byName.get(dep)!;
      if (state[d] === 1) return [...path.slice(path.indexOf(d)), d].map((k) => stages[k]!.name);
      if (state[d] === 0) {
        const found = visit(d);
        if (found) return found;
      }
    }
    path.pop();
    state[i] = 2;
    return undefined;
  };
  for (let i = 0; i < stages.length; i += 1) {
    if (state[i] !== 0) continue;
    const found = visit(i);
    if (found) return found;
  }
  return undefined;
}
