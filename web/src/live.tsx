import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { AtollClient } from '../../src/client/client';
import type { EventRecord } from '../../src/core/types';

// One live stream of the event log per tab (server-sent events over fetch, so the token goes in a
// header, never in the URL). Pages do not poll: they reload what they show when an event arrives.
// A dropped stream (the control plane restarted) is opened again from the last event seen, so
// nothing is missed and nothing is shown twice.

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

interface Live {
  readonly status: LiveStatus;
  /** The newest events, newest first. */
  readonly recent: readonly EventRecord[];
  /** Grows with every event: pages reload when it changes. */
  readonly version: number;
  /** The newest data transfers (transfer.completed), newest first, kept apart so busy logs do not push them out. */
  readonly transfers: readonly EventRecord[];
}

const RECENT = 100;
const TRANSFERS = 200;
const LiveContext = createContext<Live>({ status: 'connecting', recent: [], version: 0, transfers: [] });

function withTransfers(kept: readonly EventRecord[], events: readonly EventRecord[]): readonly EventRecord[] {
  const fresh = events.filter((e) => e.type === 'transfer.completed');
  return fresh.length === 0 ? kept : [...fresh.reverse(), ...kept].slice(0, TRANSFERS);
}

export function LiveProvider({ client, onUnauthorized, children }: { client: AtollClient; onUnauthorized: () => void; children: ReactNode }) {
  const [live, setLive] = useState<Live>({ status: 'connecting', recent: [], version: 0, transfers: [] });
  useEffect(() => {
    const stop = new AbortController();
    let lastSeq: number | undefined;
    let delay = 500;
    const run = async () => {
      while (!stop.signal.aborted) {
        try {
          if (lastSeq === undefined) {
            // The newest events, so the page has something to show; the stream then follows on from them.
            const tail = await client.listEvents({ newest: true, limit: RECENT });
            // From the log's head: a token that sees few events must not replay the whole log.
            lastSeq = Math.max(tail.head, tail.items.at(-1)?.seq ?? 0);
            setLive((l) => ({ ...l, recent: [...tail.items].reverse(), version: l.version + 1, transfers: withTransfers(l.transfers, tail.items) }));
          }
          for await (const message of client.followEvents({ after: lastSeq }, stop.signal)) {
            if (message.event === 'caught-up') {
              delay = 500;
              setLive((l) => ({ ...l, status: 'live' }));
              continue;
            }
            // The token was revoked or expired: the server ends the stream; sign in again.
            if (message.event === 'revoked' || message.event === 'expired') return onUnauthorized();
            if (message.id === undefined) continue;
            const event = JSON.parse(message.data) as EventRecord;
            lastSeq = event.seq;
            setLive((l) => ({ status: l.status, recent: [event, ...l.recent].slice(0, RECENT), version: l.version + 1, transfers: withTransfers(l.transfers, [event]) }));
          }
        } catch (error) {
          if (stop.signal.aborted) return;
          if ((error as { status?: number }).status === 401) return onUnauthorized();
        }
        setLive((l) => ({ ...l, status: 'reconnecting' }));
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 5000);
      }
    };
    void run();
    return () => stop.abort();
  }, [client, onUnauthorized]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  return useContext(LiveContext);
}

/**
 * Loads with `load` now and again whenever the event log moves (at most every `minGapMs`), keeping
 * the last good answer on screen while a reload is under way.
 */
export function useLiveData<T>(load: () => Promise<T>, deps: readonly unknown[], minGapMs = 400): { data: T | undefined; error: string | undefined } {
  const { version } = useLive();
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined }>({ data: undefined, error: undefined });
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  // Answers are numbered: the newest one asked for that has come back is shown, and a load still
  // under way when the next event arrives is not thrown away (on a busy cluster every load would be).
  const asked = useRef(0);
  const shown = useRef(0);
  const key = useRef<readonly unknown[]>(deps);
  useEffect(() => {
    // New deps (another job, another filter): answers for the old ones no longer count.
    if (deps.length !== key.current.length || deps.some((d, i) => d !== key.current[i])) {
      key.current = deps;
      shown.current = asked.current;
      last.current = 0;
      setState({ data: undefined, error: undefined });
    }
    const fire = () => {
      last.current = Date.now();
      const n = (asked.current += 1);
      loadRef.current().then(
        (data) => {
          if (!mounted.current || n <= shown.current) return;
          shown.current = n;
          setState({ data, error: undefined });
        },
        (error: unknown) => {
          if (!mounted.current || n <= shown.current) return;
          setState((s) => ({ data: s.data, error: error instanceof Error ? error.message : String(error) }));
        },
      );
    };
    const wait = last.current + minGapMs - Date.now();
    clearTimeout(timer.current);
    if (wait <= 0) fire();
    else timer.current = setTimeout(fire, wait);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, minGapMs, ...deps]);
  const mounted = useRef(false);
  useEffect(() => {
    mounted.current = true;
    return () => {
      // Unmounted: nothing that comes back is shown.
      mounted.current = false;
      clearTimeout(timer.current);
    };
  }, []);
  return state;
}
