/**
 * The embedding protocol: what a host page and the OS inside its iframe say to
 * each other with window.postMessage. Every message is tagged `agentos`; every
 * request carries a correlation id, and its answer (a `result`) carries it back.
 * Errors are the kernel's (`{ code, message }`, Unix-like codes).
 */
import type { Capabilities } from '../abi/capabilities';

/** Protocol versions this build speaks; the handshake picks the highest both sides know. */
export const EMBED_VERSIONS = [1] as const;
export const TAG = 'agentos';

export interface SpawnRequest {
  task: string;
  permissions?: Partial<Capabilities>;
  options?: { program?: string; source?: string; args?: unknown; priority?: number };
}

/** Host page → OS. */
export type HostMessage = { [TAG]: 1; id: string } & (
  | { type: 'hello'; versions: number[] }
  | ({ type: 'spawn' } & SpawnRequest)
  | { type: 'send'; pid: number; body: unknown }
  | { type: 'wait'; pid: number; timeoutMs?: number }
  | { type: 'kill'; pid: number }
  | { type: 'tool.register'; name: string; description: string; inputSchema: Record<string, unknown> }
  | { type: 'tool.result'; callId: string; ok: boolean; value?: unknown; error?: string }
);

export interface EmbedError {
  code: string;
  message: string;
}

/** OS → host page. */
export type OsMessage = { [TAG]: 1 } & (
  | { type: 'welcome'; id: string; version: number; permissions: Partial<Capabilities> }
  | { type: 'result'; id: string | null; ok: true; value: unknown }
  | { type: 'result'; id: string | null; ok: false; error: EmbedError }
  | { type: 'output'; pid: number; fd: 1 | 2; data: string }
  | { type: 'exit'; pid: number; exitCode: number | null; exitReason: string | null }
  | { type: 'tool.call'; callId: string; name: string; args: unknown; pid: number }
  | { type: 'refused'; reason: string }
);

/** A correlation id: 1 to 100 printable characters. */
export const isCorrelationId = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= 100 && /^[\x21-\x7e]+$/.test(v);
