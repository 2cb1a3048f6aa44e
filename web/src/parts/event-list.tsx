import type { EventRecord } from '../../../src/core/types';
import { ago } from '../format';
import { href } from '../router';

/** One line for an event: what happened and to what. */
export function describeEvent(e: EventRecord): string {
  const d = e.data;
  const bits: string[] = [];
  if (e.node) bits.push(e.node);
  if (e.taskId) bits.push(e.taskId);
  else if (e.jobId) bits.push(e.jobId);
  if (typeof d['from'] === 'string' && typeof d['to'] === 'string') bits.push(`${d['from']} → ${d['to']}`);
  if (typeof d['reason'] === 'string') bits.push(d['reason']);
  if (typeof d['message'] === 'string') bits.push(d['message']);
  if (typeof d['policy'] === 'string') bits.push(`policy ${d['policy']}`);
  return bits.join(' · ');
}

export function EventList({ events }: { events: readonly EventRecord[] }) {
  if (events.length === 0) return <p className="muted">Nothing has happened yet.</p>;
  return (
    <ol className="event-list" aria-label="events, newest first">
      {events.map((e) => (
        <li key={e.seq}>
          <span className="event-type">{e.type}</span>{' '}
          {e.jobId ? <a href={href('job', e.jobId)}>{describeEvent(e)}</a> : <span>{describeEvent(e)}</span>}
          <time dateTime={new Date(e.time).toISOString()} className="muted"> {ago(e.time)}</time>
        </li>
      ))}
    </ol>
  );
}
