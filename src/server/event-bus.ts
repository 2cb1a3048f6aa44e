import type { EventRecord, LogChunk } from '../core/types.js';

type Listener<T> = (items: readonly T[]) => void;

/** Fans committed events and log chunks out to live streams (SSE). Only committed data is published. */
export class EventBus {
  private readonly eventListeners = new Set<Listener<EventRecord>>();
  private readonly logListeners = new Set<Listener<LogChunk>>();

  publish(events: readonly EventRecord[], logs: readonly LogChunk[]): void {
    if (events.length > 0) for (const listener of this.eventListeners) listener(events);
    if (logs.length > 0) for (const listener of this.logListeners) listener(logs);
  }

  onEvents(listener: Listener<EventRecord>): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onLogs(listener: Listener<LogChunk>): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }
}
