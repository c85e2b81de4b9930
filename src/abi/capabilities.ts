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
  /** How much of the kernel it may consume (kernel/limits.ts); missing ones are the defaults. */
  limits?: Partial<Limits>;
  /**
   * May read the user's records: the kernel's own log (pid 0), the audit trail and the
   * episodes of processes outside its scope. Only the user holds it unless granted.
   */
  audit?: boolean;
}

/** Resource limits, one per thing an agent could exhaust (kernel/limits.ts: defaults, ceilings, checks); null: only the kernel's ceiling. */
export interface Limits {
  /** Processes alive at once in an agent's tree (itself and every descendant, adopted ones included). */
  procs: number | null;
  /** Spawns per second by the agent and its tree (a bucket holding two seconds' worth). */
  spawnsPerSec: number | null;
  /** Calls an agent may have in flight at once; frames past it are answered EAGAIN. */
  callsInFlight: number | null;
  /**
   * Pipelined call frames per second: frames that reach the kernel in the same task as an
   * earlier frame of the same agent, so sent before that one's answer could be read (a
   * bucket holding a tenth of a second's worth, at least 64); frames past it are EAGAIN. Calls made one after
   * another are never counted, however fast.
   */
  callsPerSec: number | null;
  /** Bytes waiting in the agent's mailbox (queued, plus senders blocked on it). */
  mailboxBytes: number | null;
  /** Bytes of one long-term-memory write (text, metadata and vectors of every item in the call). */
  memoryWriteBytes: number | null;
  /** Bytes of long-term memory the agent may write in its life. */
  memoryBytes: number | null;
  /** Bytes of the agent's output the kernel keeps (the tail, as held: 2 bytes a UTF-16 unit; older output is dropped). */
  outputBytes: number | null;
}

/** The capability a syscall-table entry requires (null: every process may call it). */
export type CapName = 'spawn' | 'procs' | 'models' | 'modelAdmin' | 'memory' | 'bus' | 'tools' | 'net';
