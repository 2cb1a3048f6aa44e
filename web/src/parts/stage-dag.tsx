import type { StageView } from '../../../src/core/types';

// A job's stages as a left-to-right graph: a stage sits one column right of the deepest stage it
// depends on, and an arrow runs from each dependency to it.

const BOX_W = 170;
const BOX_H = 58;
const GAP_X = 60;
const GAP_Y = 18;

export function stageColumns(stages: readonly StageView[]): number[] {
  const byName = new Map(stages.map((s, i) => [s.name, i]));
  const depth: number[] = stages.map(() => -1);
  const visit = (i: number, seen: Set<number>): number => {
    if (depth[i]! >= 0) return depth[i]!;
    if (seen.has(i)) return 0; // a cycle cannot pass validation; guard anyway
    seen.add(i);
    const parents = stages[i]!.dependsOn.map((name) => byName.get(name)).filter((p): p is number => p !== undefined);
    depth[i] = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((p) => visit(p, seen)));
    return depth[i]!;
  };
  stages.forEach((_, i) => visit(i, new Set()));
  return depth;
}

export function StageDag({ stages }: { stages: readonly StageView[] }) {
  const columns = stageColumns(stages);
  const rowInColumn = new Map<number, number>();
  const positions = stages.map((_, i) => {
    const col = columns[i]!;
    const row = rowInColumn.get(col) ?? 0;
    rowInColumn.set(col, row + 1);
    return { x: col * (BOX_W + GAP_X) + 4, y: row * (BOX_H + GAP_Y) + 4 };
  });
  const width = (Math.max(...columns) + 1) * (BOX_W + GAP_X);
  const height = Math.max(...rowInColumn.values()) * (BOX_H + GAP_Y);
  const index = new Map(stages.map((s, i) => [s.name, i]));
  const summary = stages.map((s) => `${s.name}: ${s.state}, ${s.counts.succeeded} of ${s.tasks} tasks done${s.dependsOn.length ? `, after ${s.dependsOn.join(' and ')}` : ''}`);
  return (
    <div className="stage-dag">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`Stage graph. ${summary.join('. ')}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {stages.flatMap((s, i) => s.dependsOn.map((dep) => {
          const from = positions[index.get(dep) ?? i]!;
          const to = positions[i]!;
          const x1 = from.x + BOX_W;
          const y1 = from.y + BOX_H / 2;
          const x2 = to.x;
          const y2 = to.y + BOX_H / 2;
          return <path key={`${dep}->${s.name}`} d={`M ${x1} ${y1} C ${x1 + GAP_X / 2} ${y1}, ${x2 - GAP_X / 2} ${y2}, ${x2 - 2} ${y2}`} className="dag-edge" markerEnd="url(#arrow)" />;
        }))}
        {stages.map((s, i) => (
          <g key={s.name} transform={`translate(${positions[i]!.x},${positions[i]!.y})`} className={`dag-stage state-${s.state}`} data-testid="stage">
            <rect width={BOX_W} height={BOX_H} rx={6} />
            <text x={10} y={22} className="dag-name">{s.name}</text>
            <text x={10} y={42} className="dag-meta">{s.state} · {s.counts.succeeded}/{s.tasks}{s.counts.failed ? ` · ${s.counts.failed} failed` : ''}</text>
          </g>
        ))}
      </svg>
    </div>
  );
}
