/**
 * The desktop's apps: each is a custom element `aos-app-<id>` taking `.client`,
 * in its own folder, loaded when first opened (the terminal is there at boot).
 */
export interface AppInfo {
  id: string;
  title: string;
  /** Its custom element. */
  tag: string;
  /** One window at most (opening it again focuses it); only apps with separate threads (chat) allow more. */
  single: boolean;
  w?: number;
  h?: number;
  load: () => Promise<unknown>;
}

export const APPS: AppInfo[] = [
  {
    id: 'terminal',
    title: 'Terminal',
    tag: 'aos-terminal',
    single: true,
    load: () => import('./terminal/terminal'),
  },
  {
    id: 'chat',
    tag: 'aos-app-chat',
    title: 'Agent chat',
    single: false,
    w: 640,
    h: 520,
    load: () => import('./chat/chat'),
  },
  {
    id: 'tasks',
    tag: 'aos-app-tasks',
    title: 'Task manager',
    single: true,
    // Wide enough for every column with its actions on one line (where it runs included).
    w: 940,
    h: 460,
    load: () => import('./tasks/tasks'),
  },
  {
    id: 'memory',
    tag: 'aos-app-memory',
    title: 'Memory',
    single: true,
    w: 760,
    h: 500,
    load: () => import('./memory/memory'),
  },
  {
    id: 'models',
    tag: 'aos-app-models',
    title: 'Models',
    single: true,
    w: 760,
    h: 480,
    load: () => import('./models/models'),
  },
  {
    id: 'tools',
    tag: 'aos-app-tools',
    title: 'Tools',
    single: true,
    w: 720,
    h: 460,
    load: () => import('./tools/tools'),
  },
  {
    id: 'welcome',
    tag: 'aos-app-welcome',
    title: 'Welcome: choose a model',
    single: true,
    w: 680,
    h: 600,
    load: () => import('./welcome/welcome'),
  },
  {
    id: 'settings',
    tag: 'aos-app-settings',
    title: 'Settings',
    single: true,
    w: 720,
    h: 520,
    load: () => import('./settings/settings'),
  },
];

export const appInfo = (id: string): AppInfo | undefined => APPS.find((a) => a.id === id);
