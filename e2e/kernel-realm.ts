/**
 * Evaluating an expression inside the kernel's own realm (its SharedWorker), through the
 * browser's DevTools protocol: what a frame does to the kernel's objects is visible only there,
 * never from a page's window.
 */
import type { Page } from '@playwright/test';

interface TargetInfo {
  targetId: string;
  type: string;
  url: string;
}

/** The value of `expression` (JSON-serialisable) evaluated in the kernel's SharedWorker. */
export async function evaluateInKernel<T>(page: Page, expression: string): Promise<T> {
  const cdp = await page.context().browser()!.newBrowserCDPSession();
  try {
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: TargetInfo[] };
    const kernels = targetInfos.filter((t) => t.type === 'shared_worker' && /kernel/.test(t.url));
    if (kernels.length !== 1) throw new Error(`expected one kernel SharedWorker, found ${kernels.length}`);
    const { sessionId } = (await cdp.send('Target.attachToTarget', {
      targetId: kernels[0]!.targetId,
      flatten: false,
    })) as { sessionId: string };
    const answer = new Promise<T>((resolve, reject) => {
      cdp.on('Target.receivedMessageFromTarget', (ev: { sessionId: string; message: string }) => {
        if (ev.sessionId !== sessionId) return;
        const msg = JSON.parse(ev.message) as {
          id?: number;
          result?: { result?: { value?: T }; exceptionDetails?: { text: string } };
          error?: { message: string };
        };
        if (msg.id !== 1) return;
        if (msg.error) reject(new Error(msg.error.message));
        else if (msg.result?.exceptionDetails) reject(new Error(msg.result.exceptionDetails.text));
        else resolve(msg.result?.result?.value as T);
      });
    });
    await cdp.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({
        id: 1,
        method: 'Runtime.evaluate',
        params: { expression, returnByValue: true },
      }),
    });
    return await answer;
  } finally {
    await cdp.detach();
  }
}
