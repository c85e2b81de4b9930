/**
 * An agent's stdout and stderr, written behind: `print` sends its `write` at once, in order with
 * every other call, but quiet (the kernel answers only a failure), so a streamed token costs the
 * kernel one frame in and none out for the print. A failure is thrown by the next print (as a
 * buffered write's error surfaces on the next write). Every QUIET_RUN-th write, one past the
 * in-flight cap or the rate, or a large one, is an ordinary call the print waits for: a loop of
 * prints still waits for the kernel now and then, and never pipelines past the limits.
 */
import type { SysError } from '../abi/errors';
import type { SyscallClient } from '../abi/syscall-client';

/** Writes longer than this wait for their answer (the kernel refuses one over 1 MiB: that print should throw). */
const QUIET_MAX_CHARS = 64 * 1024;

export function stdio(sys: SyscallClient): (fd: 1 | 2, text: unknown) => Promise<void> {
  let failed: SysError | null = null;
  const onError = (e: SysError) => {
    failed ??= e;
  };
  return (fd, text) => {
    const data = String(text);
    if (failed) {
      const e = failed;
      failed = null;
      return Promise.reject(e);
    }
    if (data.length <= QUIET_MAX_CHARS && sys.quietCall('write', { fd, data }, onError))
      return Promise.resolve();
    return sys.call('write', { fd, data }).then(() => {});
  };
}
