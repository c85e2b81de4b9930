import { describe, expect, it } from 'vitest';
import { WindowManager } from '../../src/shell/window-manager';

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

  it('fills narrow screens', () => {
    expect(new WindowManager(() => ({ w: 400, h: 800 })).open('a', 'A').maximized).toBe(true);
  });
});
