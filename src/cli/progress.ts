import type { TaskCounts } from '../core/types.js';

const WIDTH = 30;

/**
 * One line: a bar of finished work (green succeeded, red failed) and the counts by state.
 * Colours only on a terminal; pipes get plain text.
 */
export function renderProgress(counts: TaskCounts, total: number, elapsedMs: number, colour: boolean): string {
  const done = counts.succeeded + counts.failed + counts.cancelled;
  const okCells = Math.round((counts.succeeded / Math.max(total, 1)) * WIDTH);
  const badCells = Math.min(WIDTH - okCells, Math.round(((counts.failed + counts.cancelled) / Math.max(total, 1)) * WIDTH));
  const runCells = Math.min(WIDTH - okCells - badCells, Math.round(((counts.running + counts.assigned) / Math.max(total, 1)) * WIDTH));
  const rest = WIDTH - okCells - badCells - runCells;
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const bar = paint('32', '█'.repeat(okCells)) + paint('31', '█'.repeat(badCells)) + paint('33', '▒'.repeat(runCells)) + '░'.repeat(rest);
  const pct = Math.floor((done / Math.max(total, 1)) * 100);
  const seconds = (elapsedMs / 1000).toFixed(1);
  return `[${bar}] ${String(pct).padStart(3)}%  pending ${counts.pending}  running ${counts.running + counts.assigned}  succeeded ${counts.succeeded}  failed ${counts.failed}  ${seconds}s`;
}
