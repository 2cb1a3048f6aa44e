import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef, type ReactNode } from 'react';

// A table that renders only the rows in view, so 10,000 nodes or 100,000 tasks scroll as smoothly
// as ten. Rows have one fixed height; the header stays put while the body scrolls.

export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => ReactNode;
  /** CSS grid track, e.g. '2fr' or '8rem'. */
  readonly width?: string;
}

const ROW_PX = 36;

export function VirtualTable<T>({ rows, columns, rowKey, label, empty, height = 560 }: {
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  label: string;
  empty: ReactNode;
  height?: number;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_PX, overscan: 12 });
  const template = columns.map((c) => c.width ?? '1fr').join(' ');
  if (rows.length === 0) return <div className="empty-state">{empty}</div>;
  return (
    <div className="vtable" role="table" aria-label={label} aria-rowcount={rows.length + 1}>
      <div className="vtable-head" role="rowgroup">
        <div className="vtable-row" role="row" style={{ gridTemplateColumns: template }}>
          {columns.map((c) => <span key={c.header} role="columnheader">{c.header}</span>)}
        </div>
      </div>
      <div className="vtable-body" role="rowgroup" ref={scroller} style={{ maxHeight: height }} tabIndex={0} aria-label={`${label}, ${rows.length} rows; scroll for more`}>
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtual.getVirtualItems().map((item) => {
            const row = rows[item.index]!;
            return (
              <div key={rowKey(row)} className="vtable-row" role="row" aria-rowindex={item.index + 2}
                style={{ gridTemplateColumns: template, position: 'absolute', top: 0, left: 0, right: 0, height: ROW_PX, transform: `translateY(${item.start}px)` }}>
                {columns.map((c) => <span key={c.header} role="cell">{c.cell(row)}</span>)}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
