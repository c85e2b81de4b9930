import { describe, expect, it } from 'vitest';
import { type Win, WindowManager } from '../../src/shell/window-manager';

describe('window manager', () => {
  it('opens cascaded windows on top and focuses them; single apps reuse theirs', () => {
    const wm = new WindowManager();
    const a = wm.open('terminal', 'Terminal', { single: true });
    const b = wm.open('chat', 'Agent chat');
    expect(wm.focused).toBe(b.id);
    expect(b.z).toBeGreaterThan(a.z);
    expect([b.x, b.y]).not.toEqual([a.x, a.y]);
    expect(wm.open('terminal', 'Terminal', { single: true }).id).toBe(a.id);
    expect(wm.focused).toBe(a.id);
    expect(a.z).toBeGreaterThan(b.z);
  });

  it('minimize, maximize, close and cycle keep focus and z-order sensible', () => {
    const wm = new WindowManager();
    const a = wm.open('a', 'A');
    const b = wm.open('b', 'B');
    const c = wm.open('c', 'C');
    wm.minimize(c.id);
    expect(wm.focused).toBe(b.id);
    wm.cycle(1); // from b to the next in z-order: c, brought back
    expect(wm.focused).toBe(c.id);
    expect(wm.get(c.id)!.minimized).toBe(false);
    wm.cycle(-1);
    expect(wm.focused).toBe(b.id);
    wm.toggleMaximize(a.id);
    expect(wm.get(a.id)!.maximized).toBe(true);
    expect(wm.focused).toBe(a.id);
    wm.move(a.id, 500, 500); // a maximized window does not move
    expect(wm.get(a.id)!.x).toBe(a.x);
    wm.close(a.id);
    expect(wm.focused).toBe(wm.topVisible()!.id);
    expect(wm.windows.map((w) => w.id)).toEqual([b.id, c.id]);
  });

  it('keeps windows reachable and at least a minimum size', () => {
    const wm = new WindowManager(() => ({ w: 1000, h: 700 }));
    const a = wm.open('a', 'A');
    wm.move(a.id, 5000, -300);
    expect(wm.get(a.id)!.x).toBeLessThanOrEqual(1000 - 80);
    expect(wm.get(a.id)!.y).toBe(0);
    wm.resize(a.id, 10, 10);
    expect([wm.get(a.id)!.w, wm.get(a.id)!.h]).toEqual([280, 160]);
  });

  it('restores a saved layout, ignoring junk, and continues ids after it', () => {
    const wm = new WindowManager();
    wm.open('a', 'A');
    const saved = JSON.parse(JSON.stringify(wm.layout()));
    saved.windows.push({ id: 'x', app: 1 }, null);
    const again = new WindowManager(undefined, saved);
    expect(again.windows).toHaveLength(1);
    expect(again.focused).toBe(saved.focused);
    expect(again.open('b', 'B').id).not.toBe(again.windows[0]!.id);
  });

  it('on narrow desks shows one window at a time: the top one', () => {
    const wm = new WindowManager(() => ({ w: 390, h: 800 }));
    const a = wm.open('a', 'A');
    const b = wm.open('b', 'B');
    expect(wm.narrow).toBe(true);
    expect([wm.shown(a), wm.shown(b)]).toEqual([false, true]);
    wm.focus(a.id);
    expect([wm.shown(a), wm.shown(b)]).toEqual([true, false]);
    wm.minimize(a.id);
    expect([wm.shown(a), wm.shown(b)]).toEqual([false, true]);
  });

  it('places new windows where they cover least, not stacked on each other', () => {
    const wm = new WindowManager(() => ({ w: 1280, h: 760 }));
    const a = wm.open('a', 'A', { w: 600, h: 400 });
    const b = wm.open('b', 'B', { w: 600, h: 400 });
    const overlap = (p: typeof a, q: typeof a) =>
      Math.max(0, Math.min(p.x + p.w, q.x + q.w) - Math.max(p.x, q.x)) *
      Math.max(0, Math.min(p.y + p.h, q.y + q.h) - Math.max(p.y, q.y));
    expect(overlap(a, b)).toBe(0);
    const c = wm.open('c', 'C', { w: 600, h: 300 });
    expect(overlap(a, c) + overlap(b, c)).toBe(0);
    // A fourth that cannot fit free still does not sit exactly on another's corner.
    const d = wm.open('d', 'D', { w: 600, h: 400 });
    for (const o of [a, b, c]) expect([d.x, d.y]).not.toEqual([o.x, o.y]);
    for (const w of wm.windows) {
      expect(w.x + w.w).toBeLessThanOrEqual(1280);
      expect(w.y + w.h).toBeLessThanOrEqual(760);
    }
  });

  it('never covers a title bar when a smaller window would fit without covering one', () => {
    const wm = new WindowManager(() => ({ w: 1280, h: 760 }));
    wm.open('terminal', 'Terminal');
    wm.open('tools', 'Tools', { w: 720, h: 460 });
    wm.open('settings', 'Settings', { w: 720, h: 520 });
    const [a, b, c] = wm.windows as [Win, Win, Win];
    const coversTitle = (top: Win, under: Win) =>
      Math.min(top.x + top.w, under.x + under.w) > Math.max(top.x, under.x) &&
      Math.min(top.y + top.h, under.y + 34) > Math.max(top.y, under.y);
    expect([coversTitle(b, a), coversTitle(c, a), coversTitle(c, b)]).toEqual([false, false, false]);
  });

  it('pulls a layout saved on a bigger screen back inside a smaller one', () => {
    const big = new WindowManager(() => ({ w: 1920, h: 1040 }));
    const a = big.open('a', 'A', { w: 900, h: 700 });
    big.move(a.id, 1400, 600);
    const small = new WindowManager(() => ({ w: 390, h: 800 }), big.layout());
    const w = small.windows[0]!;
    expect(w.x).toBeGreaterThanOrEqual(0);
    expect(w.y).toBeGreaterThanOrEqual(0);
    expect(w.x + w.w).toBeLessThanOrEqual(390);
    expect(w.y + w.h).toBeLessThanOrEqual(800);
  });
});
