import { type ReactNode, useEffect, useRef, useState } from 'react';

/**
 * A table of `count` fixed-height rows that renders only the rows in view (plus a margin): 20,000
 * routes cost the DOM a few dozen rows. Tells `onRange` which rows are in view, so the caller can
 * fetch those pages from the server. A real <table>, so screen readers announce rows and columns.
 */
export function VirtualTable(props: {
  count: number;
  rowHeight: number;
  height: number;
  label: string;
  headers: string[];
  renderRow: (index: number) => ReactNode;
  /** A class for some rows (a group's header). */
  rowClass?: (index: number) => string | undefined;
  onRange?: (first: number, last: number) => void;
  /** Told the first row at the top of the view as it changes (a grouped table names its group). */
  onTop?: (top: number) => void;
}) {
  const { count, rowHeight, height, onRange, onTop } = props;
  const scroller = useRef<HTMLTableSectionElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const overscan = 10;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const top = Math.min(Math.max(0, count - 1), Math.floor(scrollTop / rowHeight));
  useEffect(() => {
    if (count > 0) onRange?.(first, last);
  }, [first, last, count, onRange]);
  useEffect(() => {
    if (count > 0) onTop?.(top);
  }, [top, count, onTop]);
  const rows: ReactNode[] = [];
  for (let index = first; index <= last; index++) {
    rows.push(
      <tr
        key={index}
        aria-rowindex={index + 2}
        className={['vrow', props.rowClass?.(index)].filter(Boolean).join(' ')}
        style={{ transform: `translateY(${index * rowHeight}px)`, height: rowHeight }}
      >
        {props.renderRow(index)}
      </tr>,
    );
  }
  return (
    <table aria-label={props.label} aria-rowcount={count + 1} className="vtable">
      <thead>
        <tr className="vhead" aria-rowindex={1}>
          {props.headers.map((header) => (
            <th key={header} scope="col">
              {header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody
        ref={scroller}
        className="vscroll"
        style={{ height }}
        onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the scrolling rows must be reachable by keyboard
        tabIndex={0}
      >
        {rows}
        {/* Gives the scroll area the height of every row, rendered or not. */}
        {/* biome-ignore lint/a11y/noAriaHiddenOnFocusable: an empty row is not focusable; it only sizes the scroll area */}
        <tr
          aria-hidden="true"
          className="vspacer"
          style={{ transform: `translateY(${count * rowHeight}px)` }}
        />
      </tbody>
    </table>
  );
}
