import { useEffect, useRef, useState, type FormEvent } from 'react';
import { href } from '../router';

// Every task of a job as one small square coloured by its state, drawn on a canvas so 100,000
// tasks cost one draw. A click (or the task number box, for keyboards) opens that task.

const NAMES: Readonly<Record<string, string>> = { p: 'pending', a: 'assigned', r: 'running', s: 'succeeded', f: 'failed', c: 'cancelled' };
const WIDTH = 960;

function cellSize(count: number): { size: number; gap: number } {
  if (count <= 2000) return { size: 12, gap: 2 };
  if (count <= 20_000) return { size: 6, gap: 1 };
  return { size: 3, gap: 0 };
}

export function TaskGrid({ jobId, states, selected }: { jobId: string; states: string; selected: string | undefined }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const { size, gap } = cellSize(states.length);
  const step = size + gap;
  const perRow = Math.floor(WIDTH / step);
  const rows = Math.ceil(states.length / perRow);
  const selectedIndex = selected?.startsWith(`${jobId}.`) ? Number(selected.slice(jobId.length + 1)) : -1;
  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const style = getComputedStyle(document.documentElement);
    const colours = Object.fromEntries(Object.entries(NAMES).map(([k, name]) => [k, style.getPropertyValue(`--state-${name}`).trim() || '#888']));
    ctx.clearRect(0, 0, c.width, c.height);
    for (let i = 0; i < states.length; i += 1) {
      ctx.fillStyle = colours[states[i]!] ?? '#888';
      ctx.fillRect((i % perRow) * step, Math.floor(i / perRow) * step, size, size);
    }
    if (selectedIndex >= 0 && selectedIndex < states.length) {
      ctx.strokeStyle = style.getPropertyValue('--fg').trim() || '#000';
      ctx.lineWidth = 2;
      ctx.strokeRect((selectedIndex % perRow) * step - 1, Math.floor(selectedIndex / perRow) * step - 1, size + 2, size + 2);
    }
  }, [states, perRow, step, size, selectedIndex]);
  const counts = new Map<string, number>();
  for (const ch of states) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const open = (index: number) => {
    if (index >= 0 && index < states.length) window.location.hash = href('job', jobId, `${jobId}.${index}`);
  };
  return (
    <div className="task-grid">
      <ul className="legend" aria-label="tasks by state">
        {Object.entries(NAMES).filter(([k]) => counts.has(k)).map(([k, name]) => (
          <li key={k}><span className={`swatch state-${name}`} aria-hidden="true" />{name} {counts.get(k)}</li>
        ))}
      </ul>
      <canvas ref={canvas} width={perRow * step} height={rows * step} data-testid="task-grid" aria-label={`${states.length} tasks, one square each; pick one with the box below`}
        onClick={(e) => {
          const box = e.currentTarget.getBoundingClientRect();
          const scale = e.currentTarget.width / box.width;
          const x = Math.floor(((e.clientX - box.left) * scale) / step);
          const y = Math.floor(((e.clientY - box.top) * scale) / step);
          if (x < perRow) open(y * perRow + x);
        }} />
      <TaskJump count={states.length} onOpen={open} />
    </div>
  );
}

function TaskJump({ count, onOpen }: { count: number; onOpen: (index: number) => void }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onOpen(Number(value));
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label>Open task number <input type="number" min={0} max={count - 1} value={value} onChange={(e) => setValue(e.target.value)} required /></label>
      <button type="submit">Open</button>
    </form>
  );
}
