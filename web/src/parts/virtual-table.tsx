import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState, type ReactNode } from 'react';

// A table that renders only the rows in view, so 10,000 nodes scroll as smoothly as ten. Rows
// have one fixed height; the header stays put while the body scrolls. Rows come from an array or,
// for lists paged by the server, from `rowAt` (undefined while a row's page is on its way) with
// `onRange` saying which rows are in view.

export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => ReactNode;
  /** CSS grid track, e.g. '2fr' or '8rem'. */
  readonly width?: string;
  /** Left out on windows narrower than this (px), so the columns that matter keep their room. */
  readonly hideBelow?: number;
}

function useWindowWidth(): number {
  const [width, setWidth] = useState(() => window.innerWidth);
  useEffect(() => {
    const onResize = () => setWidth(window.innerWidth);
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  return width;
}

const ROW_PX = 36;

interface Source<T> {
  readonly count: number;
  readonly rowAt: (index: number) => T | undefined;
  readonly onRange?: (start: number, end: number) => void;
}

export function VirtualTable<T>({ rows, columns: allColumns, rowKey, label, empty, height = 560 }: {
  rows: readonly T[] | Source<T>;
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  label: string;
  empty: ReactNode;
  height?: number;
}) {
  const windowWidth = useWindowWidth();
  const columns = allColumns.filter((c) => c.hideBelow === undefined || windowWidth >= c.hideBelow);
  const source: Source<T> = Array.isArray(rows) ? { count: rows.length, rowAt: (i) => (rows as readonly T[])[i] } : (rows as Source<T>);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: source.count, getScrollElement: () => scroller.current, estimateSize: () => ROW_PX, overscan: 12 });
  const items = virtual.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items.at(-1)?.index ?? -1;
  const { onRange } = source;
  useEffect(() => {
    if (last >= first) onRange?.(first, last + 1);
  }, [first, last, onRange]);
  const template = columns.map((c) => c.width ?? '1fr').join(' ');
  if (source.count === 0) return <div className="empty-state">{empty}</div>;
  return (
    <div className="vtable" role="table" aria-label={label} aria-rowcount={source.count + 1}>
      <div className="vtable-head" role="rowgroup">
        <div className="vtable-row" role="row" style={{ gridTemplateColumns: template }}>
          {columns.map((c) => <span key={c.header} role="columnheader">{c.header}</span>)}
        </div>
      </div>
      <div className="vtable-body" role="rowgroup" ref={scroller} style={{ maxHeight: height }} tabIndex={0} aria-label={`${label}, ${source.count} rows; scroll for more`}>
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {items.map((item) => {
            const row = source.rowAt(item.index);
            const style = { gridTemplateColumns: template, position: 'absolute', top: 0, left: 0, right: 0, height: ROW_PX, transform: `translateY(${item.start}px)` } as const;
            if (row === undefined) {
              return <div key={`loading-${item.index}`} className="vtable-row loading" role="row" aria-rowindex={item.index + 2} style={style}><span role="cell">…</span></div>;
            }
            return (
              <div key={rowKey(row)} className="vtable-row" role="row" aria-rowindex={item.index + 2} style={style}>
                {columns.map((c) => <span key={c.header} role="cell">{c.cell(row)}</span>)}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
