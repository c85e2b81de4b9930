/** Resolvers waiting for the next task, and the channel that posts to ourselves (made on first use). */
const afterTask: (() => void)[] = [];
let selfChannel: MessageChannel | null = null;

/**
 * Resolves after the tasks already queued in this worker (messages that arrived while this one
 * ran) have had their turn: a message posted to ourselves queues behind them, with no timer clamping.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof MessageChannel !== 'function') return void setTimeout(resolve, 0);
    if (!selfChannel) {
      selfChannel = new MessageChannel();
      selfChannel.port1.onmessage = () => afterTask.shift()?.();
      (selfChannel.port1 as { unref?: () => void }).unref?.(); // never keep a Node test process alive
    }
    afterTask.push(resolve);
    selfChannel.port2.postMessage(null);
  });
}
