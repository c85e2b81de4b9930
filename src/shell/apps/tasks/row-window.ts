/**
 * Which rows of a long table to put in the DOM: those in view and a margin around them. With
 * hundreds of processes, laying out and painting every row at each live update costs more than a
 * frame; rows out of view are stood in for by spacers of their estimated height.
 */

/** Tables at most this long are rendered whole (small tables: no jumps, every row in the DOM). */
export const WINDOW_FROM_ROWS = 100;
/** Rows rendered beyond each edge of the view. */
const OVERSCAN = 10;

export interface RowWindow {
  start: number;
  end: number;
}

/**
 * `rowsTop`: where the first row starts, in the scroller's coordinates; `rowHeight`: an estimate
 * (the rendered rows' mean). Always a non-empty window of a non-empty table, within its bounds.
 */
export function rowWindow(
  total: number,
  view: { scrollTop: number; height: number },
  rowsTop: number,
  rowHeight: number,
): RowWindow {
  if (total <= WINDOW_FROM_ROWS) return { start: 0, end: total };
  const h = Math.max(1, rowHeight);
  const first = Math.floor((view.scrollTop - rowsTop) / h);
  const count = Math.ceil(view.height / h) + 1;
  const start = Math.min(Math.max(0, first - OVERSCAN), Math.max(0, total - 1));
  const end = Math.min(total, Math.max(start + 1, first + count + OVERSCAN));
  return { start, end };
}
