/**
 * The desktop's windows, as plain state: open, focus, move, resize, minimize,
 * maximize, close, cycle, with z-order. No DOM here, so it is tested in Node;
 * <aos-desktop> renders it and saves it (localStorage) so a reload restores
 * the layout and the open apps.
 */

export interface Win {
  id: string;
  app: string;
  title: string;
  x: number;
  y: number;
  w: number;
  h: number;
  z: number;
  minimized: boolean;
  maximized: boolean;
  /** App-specific state to restore (e.g. the pid a chat is attached to). */
  props?: Record<string, unknown>;
}

export interface Layout {
  windows: Win[];
  focused: string | null;
}

const MIN_W = 280;
const MIN_H = 160;
/** Below this desk width one app at a time fills the screen (phones). */
export const NARROW_W = 640;
const GAP = 16;
/** A window's title bar, kept uncovered by new windows where possible. */
const TITLE_H = 34;

export class WindowManager {
  windows: Win[] = [];
  focused: string | null = null;
  private seq = 0;

  /** `viewport`: the desk's size (the screen less the taskbar). */
  constructor(
    private viewport: () => { w: number; h: number } = () => ({ w: 1280, h: 760 }),
    restored?: Layout | null,
  ) {
    if (restored && Array.isArray(restored.windows)) {
      this.windows = restored.windows.filter(isWin).map((w) => ({ ...w }));
      this.focused = this.windows.some((w) => w.id === restored.focused) ? restored.focused : null;
      this.seq = this.windows.reduce((n, w) => Math.max(n, Number(w.id.split('-').pop()) || 0), 0);
      // A layout saved on a bigger screen (or before a rotation) must not leave windows off-screen.
      this.fit();
    }
  }

  /** On narrow desks every window fills the desk and only the top one shows (see `shown`). */
  get narrow(): boolean {
    return this.viewport().w < NARROW_W;
  }

  /** Whether a window is on screen: not minimized, and on a narrow desk only the top one. */
  shown(w: Win): boolean {
    if (w.minimized) return false;
    return !this.narrow || this.topVisible()?.id === w.id;
  }

  /** Pulls every window wholly inside the desk, shrinking it if the desk is smaller (a resize, a restored layout). */
  fit(): void {
    const vp = this.viewport();
    for (const w of this.windows) {
      w.w = Math.max(Math.min(MIN_W, vp.w), Math.min(w.w, vp.w));
      w.h = Math.max(Math.min(MIN_H, vp.h), Math.min(w.h, vp.h));
      w.x = Math.max(0, Math.min(w.x, vp.w - w.w));
      w.y = Math.max(0, Math.min(w.y, vp.h - w.h));
    }
  }

  /**
   * Where a new w×h window covers least of the visible windows: candidates on a grid over the
   * desk, the least overlapped area wins, ties go to the top-left (reading order).
   */
  private place(w: number, h: number): { x: number; y: number; titles: number } {
    const vp = this.viewport();
    const others = this.windows.filter((o) => !o.minimized);
    const maxX = Math.max(0, vp.w - w);
    const maxY = Math.max(0, vp.h - h);
    const xs = new Set([0, maxX, ...others.flatMap((o) => [o.x + o.w + GAP, o.x - w - GAP])]);
    const ys = new Set([0, maxY, ...others.flatMap((o) => [o.y + o.h + GAP, o.y - h - GAP, o.y + TITLE_H])]);
    for (let x = 0; x <= maxX; x += 48) xs.add(x);
    for (let y = 0; y <= maxY; y += 48) ys.add(y);
    let best = { x: 0, y: 0, cost: Number.POSITIVE_INFINITY, titles: 0 };
    for (const x0 of xs) {
      const x = Math.max(0, Math.min(x0, maxX));
      for (const y0 of ys) {
        const y = Math.max(0, Math.min(y0, maxY));
        let cost = 0;
        let titles = 0;
        for (const o of others) {
          const ox = Math.max(0, Math.min(x + w, o.x + o.w) - Math.max(x, o.x));
          const oy = Math.max(0, Math.min(y + h, o.y + o.h) - Math.max(y, o.y));
          // Covering a title bar costs most: it is how a covered window is found and grabbed again.
          const tx = Math.max(0, Math.min(x + w, o.x + o.w) - Math.max(x, o.x));
          const ty = Math.max(0, Math.min(y + h, o.y + TITLE_H) - Math.max(y, o.y));
          cost += ox * oy + tx * ty * 40;
          titles += tx * ty;
        }
        if (cost < best.cost || (cost === best.cost && (y < best.y || (y === best.y && x < best.x))))
          best = { x, y, cost, titles };
      }
    }
    return { x: best.x, y: best.y, titles: best.titles };
  }

  /** The size and place for a new window: its own size if that covers no title bar, else smaller until one does. */
  private fitNew(w: number, h: number): { x: number; y: number; w: number; h: number } {
    const first = { ...this.place(w, h), w, h };
    if (!first.titles) return first;
    for (const scale of [0.85, 0.7]) {
      const sw = Math.max(MIN_W, Math.round(w * scale));
      const sh = Math.max(MIN_H, Math.round(h * scale));
      const at = this.place(sw, sh);
      if (!at.titles) return { x: at.x, y: at.y, w: sw, h: sh };
    }
    return first;
  }

  private topZ(): number {
    return this.windows.reduce((z, w) => Math.max(z, w.z), 0);
  }

  get(id: string): Win | undefined {
    return this.windows.find((w) => w.id === id);
  }

  /** Opens an app's window (where it covers least, on top, focused); `single` apps focus their existing window. */
  open(
    app: string,
    title: string,
    o: { single?: boolean; w?: number; h?: number; props?: Record<string, unknown> } = {},
  ): Win {
    if (o.single) {
      const existing = this.windows.find((w) => w.app === app);
      if (existing) {
        this.focus(existing.id);
        return existing;
      }
    }
    const vp = this.viewport();
    const w = Math.max(Math.min(MIN_W, vp.w), Math.min(o.w ?? 760, vp.w - GAP));
    const h = Math.max(Math.min(MIN_H, vp.h), Math.min(o.h ?? 480, vp.h - GAP));
    const at = this.fitNew(w, h);
    const win: Win = {
      id: `${app}-${++this.seq}`,
      app,
      title,
      x: at.x,
      y: at.y,
      w: at.w,
      h: at.h,
      z: this.topZ() + 1,
      minimized: false,
      maximized: false, // narrow desks show every window full size anyway (`narrow`), without changing its layout
      ...(o.props ? { props: o.props } : {}),
    };
    this.windows.push(win);
    this.focused = win.id;
    return win;
  }

  focus(id: string): void {
    const w = this.get(id);
    if (!w) return;
    w.minimized = false;
    if (w.z !== this.topZ() || this.windows.filter((x) => x.z === w.z).length > 1) w.z = this.topZ() + 1;
    this.focused = id;
  }

  close(id: string): void {
    this.windows = this.windows.filter((w) => w.id !== id);
    if (this.focused === id) this.focused = this.topVisible()?.id ?? null;
  }

  minimize(id: string): void {
    const w = this.get(id);
    if (!w) return;
    w.minimized = true;
    if (this.focused === id) this.focused = this.topVisible()?.id ?? null;
  }

  toggleMaximize(id: string): void {
    const w = this.get(id);
    if (!w) return;
    w.maximized = !w.maximized;
    this.focus(id);
  }

  /** Moves a window, keeping its title bar reachable. */
  move(id: string, x: number, y: number): void {
    const w = this.get(id);
    if (!w || w.maximized) return;
    const vp = this.viewport();
    w.x = Math.round(Math.max(-w.w + 80, Math.min(x, vp.w - 80)));
    w.y = Math.round(Math.max(0, Math.min(y, vp.h - 40)));
  }

  /** Resizes, keeping a minimum size and the window within the desk's right and bottom edges. */
  resize(id: string, width: number, height: number): void {
    const w = this.get(id);
    if (!w || w.maximized) return;
    const vp = this.viewport();
    w.w = Math.round(Math.max(MIN_W, Math.min(width, vp.w - Math.max(0, w.x))));
    w.h = Math.round(Math.max(MIN_H, Math.min(height, vp.h - w.y)));
  }

  /** The next (or previous) window in z-order, for keyboard switching; brings minimized ones back. */
  cycle(dir: 1 | -1): Win | null {
    if (!this.windows.length) return null;
    const order = [...this.windows].sort((a, b) => a.z - b.z);
    const i = order.findIndex((w) => w.id === this.focused);
    const next = order[(i + dir + order.length) % order.length]!;
    this.focus(next.id);
    return next;
  }

  topVisible(): Win | undefined {
    return [...this.windows].filter((w) => !w.minimized).sort((a, b) => b.z - a.z)[0];
  }

  layout(): Layout {
    return { windows: this.windows.map((w) => ({ ...w })), focused: this.focused };
  }
}

function isWin(v: unknown): v is Win {
  const w = v as Win;
  return (
    !!w &&
    typeof w.id === 'string' &&
    typeof w.app === 'string' &&
    typeof w.title === 'string' &&
    [w.x, w.y, w.w, w.h, w.z].every((n) => Number.isFinite(n))
  );
}
