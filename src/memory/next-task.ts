/**
 * Yields to the event loop: resolves in a later task, so messages queued meanwhile (a tab's
 * calls, agents' frames) run first. A MessageChannel rather than setTimeout: timers nest-clamp to
 * 4 ms and a hidden page's timers are throttled; a message is neither.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}
