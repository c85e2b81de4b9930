/**
 * Tools the kernel serves that act in the world for the caller: long-term
 * memory (each one runs the memory syscall as the caller, so the namespace
 * checks hold) and an HTTP fetch limited to the origins its `net` capability
 * grants. Registered at boot; whether an agent may call each is its `tools` grant.
 */

import { SysError } from '../abi/errors';
import { mayReachOrigin, originOf } from '../kernel/access-control';
import type { Caller, Kernel } from '../kernel/kernel';
import { MAX_RESULT_BYTES, type ToolCaller } from './registry';

/** Bytes of a response body http.fetch returns at most (the rest is cut, and it says so). */
const MAX_BODY = 128 * 1024;

export function registerKernelTools(k: Kernel): void {
  // The tools.call syscall hands over its Caller; anything else (a test) names a live process.
  const as = (c: ToolCaller): Caller => {
    if ('kind' in c) return c as Caller;
    const proc = k.procs.find(c.pid);
    if (!proc?.alive) throw new SysError('ESRCH', `process ${c.pid} is gone`);
    return { kind: 'agent', pid: c.pid, caps: proc.info.capabilities, proc };
  };

  k.tools.register(
    {
      name: 'memory.remember',
      description: 'remember a fact or note in long-term memory, to recall it later',
      inputSchema: {
        type: 'object',
        properties: {
          text: { type: 'string', minLength: 1, maxLength: 20_000 },
          namespace: { type: 'string', maxLength: 200 },
        },
        required: ['text'],
        additionalProperties: false,
      },
    },
    'kernel',
    async (a, c) => {
      const item = { text: String(a.text), ...(a.namespace ? { namespace: String(a.namespace) } : {}) };
      const r = (await k.dispatch.invoke(as(c), 'memory.remember', { items: [item] })) as { ids: number[] };
      return { id: r.ids[0] };
    },
  );

  k.tools.register(
    {
      name: 'memory.recall',
      description: 'search long-term memory by meaning and keywords: what was remembered before',
      inputSchema: {
        type: 'object',
        properties: {
          query: { type: 'string', minLength: 1, maxLength: 2000 },
          k: { type: 'integer', minimum: 1, maximum: 20 },
        },
        required: ['query'],
        additionalProperties: false,
      },
    },
    'kernel',
    async (a, c) => {
      const hits = (await k.dispatch.invoke(as(c), 'memory.recall', {
        query: String(a.query),
        k: typeof a.k === 'number' ? a.k : 5,
      })) as Array<{ id: number; text: string; score: number; namespace: string }>;
      return hits.map(({ id, text, score, namespace }) => ({ id, text, score, namespace }));
    },
  );

  k.tools.register(
    {
      name: 'http.fetch',
      description:
        'fetch a web page or API over HTTP(S) (only origins you were granted); returns status and text',
      inputSchema: {
        type: 'object',
        properties: {
          url: { type: 'string', minLength: 8, maxLength: 4096 },
          method: { enum: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'] },
          headers: {
            type: 'object',
            additionalProperties: { type: 'string', maxLength: 8192 },
            maxProperties: 32,
          },
          body: { type: 'string', maxLength: 1_048_576 },
        },
        required: ['url'],
        additionalProperties: false,
      },
    },
    'kernel',
    async (a, c) => {
      const url = String(a.url);
      const origin = originOf(url);
      if (!mayReachOrigin(c.caps, origin)) {
        k.log(c.pid, 'deny', `http.fetch of ${origin} denied`);
        throw new SysError('EPERM', `no network access to ${origin} (net capability)`);
      }
      k.log(c.pid, 'net', `http.fetch ${String(a.method ?? 'GET')} ${url.slice(0, 300)}`);
      const res = await fetch(url, {
        method: String(a.method ?? 'GET'),
        headers: (a.headers ?? {}) as Record<string, string>,
        ...(a.body !== undefined ? { body: String(a.body) } : {}),
        credentials: 'omit', // never the user's cookies
        redirect: 'manual', // a redirect could leave the granted origin
        signal: AbortSignal.timeout(30_000),
      }).catch((e: unknown) => {
        const timeout = (e as Error)?.name === 'TimeoutError';
        throw new SysError(timeout ? 'ETIMEDOUT' : 'EIO', `fetching ${url}: ${(e as Error).message ?? e}`);
      });
      const reader = res.body?.getReader();
      const chunks: Uint8Array[] = [];
      let size = 0;
      let truncated = false;
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.byteLength;
        if (size > MAX_BODY) {
          truncated = true;
          await reader.cancel();
          break;
        }
      }
      const bytes = new Uint8Array(Math.min(size, MAX_BODY));
      let at = 0;
      for (const ch of chunks) {
        const part = ch.subarray(0, Math.min(ch.byteLength, bytes.byteLength - at));
        bytes.set(part, at);
        at += part.byteLength;
      }
      const text = new TextDecoder().decode(bytes).slice(0, MAX_RESULT_BYTES / 2);
      return {
        status: res.status,
        contentType: res.headers.get('content-type'),
        ...(res.status >= 300 && res.status < 400 ? { location: res.headers.get('location') } : {}),
        text,
        truncated,
      };
    },
  );
}
