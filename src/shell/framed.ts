/**
 * The desktop never runs inside another page's frame: a click there could
 * answer a permission prompt for the user ("Always allow") under a page the
 * user cannot see (clickjacking). Servers that can send headers add
 * `frame-ancestors 'none'` (vite.config.ts, dist/_headers); this check holds
 * where they cannot: a framed desktop does not connect to the kernel at all
 * (so no prompt, no agent, no state ever reaches it) and offers to open the OS
 * in its own tab. embed.html is the page meant for frames.
 */
export function isFramed(): boolean {
  try {
    return window.top !== window.self;
  } catch {
    return true; // a cross-origin top cannot even be compared: framed
  }
}

/** Replaces the page with a notice and a link that opens the desktop in its own tab. */
export function showOpenInOwnTab(): void {
  const main = document.createElement('main');
  main.setAttribute('role', 'alert');
  main.style.cssText = 'font: 16px system-ui, sans-serif; padding: 2rem; max-width: 40rem';
  const p = document.createElement('p');
  p.textContent = 'AgentOS does not run inside another page. Open it in its own tab.';
  const a = document.createElement('a');
  a.href = location.href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.textContent = 'Open AgentOS in its own tab';
  main.append(p, a);
  document.body.replaceChildren(main);
  document.documentElement.dataset.framed = 'true';
}
