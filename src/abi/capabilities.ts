/** What a process may do: the capability set the kernel checks on every syscall (see kernel/access-control.ts). */
export interface Capabilities {
  /** May start child processes. */
  spawn: boolean;
  /** Whose processes it may list, signal and wait for: only itself, its descendants, or all. */
  procs: 'self' | 'children' | 'all';
  /** Model ids it may use; '*' for any. */
  models: string[];
  /** Total tokens (prompt + completion) it may consume; null for no limit. */
  tokenQuota: number | null;
  /** May load models into the pool and change engine settings. */
  modelAdmin: boolean;
  /** Shared long-term-memory namespaces it may read ('*' for all); its private one is always readable. */
  memoryRead: string[];
  /** Shared namespaces it may write; its private one is always writable. */
  memoryWrite: string[];
  /**
   * Bus channels: '*' (all), 'family' (its parent and children), 'name:<n>' (the process
   * registered as n; registering as n), 'topic:<t>' ('topic:*': any topic). Receiving from
   * its own mailbox needs nothing.
   */
  bus: string[];
  /** Tools it may call, by name ('*' for all). */
  tools: string[];
  /** Network origins the kernel may reach for it (http.fetch, programs from a URL): 'https://host[:port]' or '*'. */
  net: string[];
  /** Long-term memory records it may write in its life (remember, update); null for no limit. */
  memoryWrites: number | null;
}

/** The capability a syscall-table entry requires (null: every process may call it). */
export type CapName = 'spawn' | 'procs' | 'models' | 'modelAdmin' | 'memory' | 'bus' | 'tools' | 'net';
