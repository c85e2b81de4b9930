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

export class WindowManager {
  windows: Win[] = [];
  focused: string | null = null;
  private seq = 0;

  constructor(
    private viewport: () => { w: number; h: number } = () => ({ w: 1280, h: 800 }),
    restored?: Layout | null,
  ) {
    if (restored && Array.isArray(restored.windows)) {
      this.windows = restored.windows.filter(isWin).map((w) => ({ ...w }));
      this.focused = this.windows.some((w) => w.id === restored.focused) ? restored.focused : null;
      this.seq = this.windows.reduce((n, w) => Math.max(n, Number(w.id.split('-').pop()) || 0), 0);
    }
  }

  private topZ(): number {
    return this.windows.reduce((z, w) => Math.max(z, w.z), 0);
  }

  get(id: string): Win | undefined {
    return this.windows.find((w) => w.id === id);
  }

  /** Opens an app's window (cascaded, on top, focused); `single` apps focus their existing window. */
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
    const n = this.windows.length;
    const w = Math.min(o.w ?? 760, vp.w - 16);
    const h = Math.min(o.h ?? 480, vp.h - 64);
    const win: Win = {
      id: `${app}-${++this.seq}`,
      app,
      title,
      x: Math.max(0, Math.min(40 + n * 28, vp.w - w)),
      y: Math.max(0, Math.min(24 + n * 28, vp.h - 48 - h)),
      w,
      h,
      z: this.topZ() + 1,
      minimized: false,
      maximized: vp.w < 640, // narrow screens: every window fills the desk
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
    w.y = Math.round(Math.max(0, Math.min(y, vp.h - 80)));
  }

  resize(id: string, width: number, height: number): void {
    const w = this.get(id);
    if (!w || w.maximized) return;
    w.w = Math.round(Math.max(MIN_W, width));
    w.h = Math.round(Math.max(MIN_H, height));
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
