import { useCallback, useEffect, useRef, useState } from 'react';
import { useLive } from '../live';

// Rows of a list the server pages (GET ...?offset&limit), fetched a block at a time as they scroll
// into view, and fetched again (only the blocks in view) when the event log moves.

const BLOCK = 200;

export interface PagedRows<T> {
  readonly total: number | undefined;
  readonly error: string | undefined;
  readonly rowAt: (index: number) => T | undefined;
  readonly onRange: (start: number, end: number) => void;
}

export function usePagedRows<T>(load: (offset: number, limit: number) => Promise<{ items: readonly T[]; total: number }>, deps: readonly unknown[], minGapMs = 1000): PagedRows<T> {
  const { version } = useLive();
  const [, redraw] = useState(0);
  const [total, setTotal] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const blocks = useRef(new Map<number, readonly T[]>());
  const inFlight = useRef(new Set<number>());
  const range = useRef<[number, number]>([0, BLOCK]);
  const generation = useRef(0);
  const lastRefresh = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const fetchBlock = useCallback((block: number) => {
    if (inFlight.current.has(block)) return;
    // Each generation has its own in-flight set: an answer for an older one neither shows nor
    // clears the newer one's bookkeeping.
    const pending = inFlight.current;
    pending.add(block);
    const gen = generation.current;
    loadRef.current(block * BLOCK, BLOCK).then(
      (page) => {
        pending.delete(block);
        if (gen !== generation.current) return;
        blocks.current.set(block, page.items);
        setTotal(page.total);
        setError(undefined);
        redraw((n) => n + 1);
      },
      (e: unknown) => {
        pending.delete(block);
        if (gen === generation.current) setError(e instanceof Error ? e.message : String(e));
      },
    );
  }, []);

  const visibleBlocks = () => {
    const [start, end] = range.current;
    const out: number[] = [];
    for (let b = Math.floor(start / BLOCK); b <= Math.floor(Math.max(start, end - 1) / BLOCK); b += 1) out.push(b);
    return out;
  };

  // New filters: start over.
  useEffect(() => {
    generation.current += 1;
    blocks.current = new Map();
    inFlight.current = new Set();
    setTotal(undefined);
    for (const b of visibleBlocks()) fetchBlock(b);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  // The log moved: what is on screen is fetched again, at most every `minGapMs` (not on mount:
  // the effect above has just asked).
  const seenVersion = useRef(version);
  useEffect(() => {
    if (version === seenVersion.current) return;
    seenVersion.current = version;
    const wait = lastRefresh.current + minGapMs - Date.now();
    const timer = setTimeout(() => {
      lastRefresh.current = Date.now();
      generation.current += 1;
      const keep = new Set(visibleBlocks());
      for (const b of [...blocks.current.keys()]) if (!keep.has(b)) blocks.current.delete(b);
      inFlight.current = new Set();
      for (const b of keep) fetchBlock(b);
    }, Math.max(0, wait));
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);

  const onRange = useCallback((start: number, end: number) => {
    range.current = [start, end];
    for (const b of visibleBlocks()) if (!blocks.current.has(b)) fetchBlock(b);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fetchBlock]);

  const rowAt = (index: number) => blocks.current.get(Math.floor(index / BLOCK))?.[index % BLOCK];
  return { total, error, rowAt, onRange };
}
