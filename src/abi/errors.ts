/**
 * Unix-like error codes. Every failure that crosses a port is one of these,
 * so agents, the shell and embedders can branch on `code`, not on prose.
 */
export const ERRNO = {
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument',
  ENOENT: 'no such entity',
  ESRCH: 'no such process',
  EAGAIN: 'resource temporarily unavailable',
  ENOSPC: 'no space left',
  ETIMEDOUT: 'timed out',
  ENOSYS: 'function not implemented',
  ECANCELED: 'operation canceled',
  EDQUOT: 'quota exceeded',
  EIO: 'input/output error',
  ECHILD: 'no child process',
  E2BIG: 'argument too large',
  EPROTO: 'protocol error',
  /** The tab that served the call (a hosted engine, a page's tool) went away mid-call: safe reads may be retried. */
  EHOSTDOWN: 'the tab serving it went away',
} as const;

export type Errno = keyof typeof ERRNO;

export interface SysErrorShape {
  code: Errno;
  message: string;
}

export class SysError extends Error implements SysErrorShape {
  override readonly name = 'SysError';
  constructor(
    readonly code: Errno,
    message?: string,
  ) {
    super(message ? `${code}: ${message}` : `${code}: ${ERRNO[code]}`);
  }

  toJSON(): SysErrorShape {
    return { code: this.code, message: this.message };
  }

  static is(e: unknown, code?: Errno): e is SysError {
    return e instanceof SysError && (code === undefined || e.code === code);
  }

  /** Rebuilds an error that crossed a port; anything unrecognised becomes EIO. */
  static from(shape: unknown): SysError {
    if (shape instanceof SysError) return shape;
    if (shape && typeof shape === 'object') {
      const { code, message } = shape as { code?: unknown; message?: unknown };
      if (typeof code === 'string' && code in ERRNO) {
        const err = new SysError(code as Errno);
        if (typeof message === 'string') err.message = message;
        return err;
      }
    }
    return new SysError('EIO', shape instanceof Error ? shape.message : String(shape));
  }
}
