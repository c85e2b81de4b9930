/** Light or dark: the system's choice unless the user picked one in Settings (kept in localStorage). */
export type Theme = 'system' | 'light' | 'dark';
export const THEME_KEY = 'agentos.theme';

export function savedTheme(): Theme {
  const t = globalThis.localStorage?.getItem(THEME_KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

/** 'system' follows prefers-color-scheme (the CSS default); the others set data-theme on <html>. */
export function applyTheme(t: Theme): void {
  if (t === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
}
