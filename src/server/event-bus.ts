import type { ChargeRecord } from '../core/spend.js';
import type { EventRecord, LogChunk } from '../core/types.js';

type Listener<T> = (items: readonly T[]) => void;

/** Fans committed events, log chunks and charges out to live streams (SSE) and metrics. Only committed data is published. */
export class EventBus {
  private readonly eventListeners = new Set<Listener<EventRecord>>();
  private readonly logListeners = new Set<Listener<LogChunk>>();
  private readonly chargeListeners = new Set<Listener<ChargeRecord>>();

  publish(events: readonly EventRecord[], logs: readonly LogChunk[], charges: readonly ChargeRecord[] = []): void {
    if (events.length > 0) for (const listener of this.eventListeners) listener(events);
    if (logs.length > 0) for (const listener of this.logListeners) listener(logs);
    if (charges.length > 0) for (const listener of this.chargeListeners) listener(charges);
  }

  onCharges(listener: Listener<ChargeRecord>): () => void {
    this.chargeListeners.add(listener);
    return () => this.chargeListeners.delete(listener);
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
