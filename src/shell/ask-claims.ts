/**
 * Which agents' permission requests an open chat shows inline ("Allow X for this chat?"), so
 * that the desktop's global prompt leaves them out: each request is shown in exactly one place
 * in a tab — inline in its chat while that chat is open on the agent's thread, in the global
 * prompt otherwise (the chat closed, or showing another thread). Per tab, in memory.
 */
export class AskClaims extends EventTarget {
  private readonly byOwner = new Map<object, number>();

  /** `owner` (an open chat) shows the requests of agent `pid` inline; null: none any more. */
  set(owner: object, pid: number | null): void {
    if ((this.byOwner.get(owner) ?? null) === pid) return;
    if (pid === null) this.byOwner.delete(owner);
    else this.byOwner.set(owner, pid);
    this.dispatchEvent(new Event('change'));
  }

  /** Whether some open chat shows agent `pid`'s requests. */
  has(pid: number): boolean {
    for (const p of this.byOwner.values()) if (p === pid) return true;
    return false;
  }
}

/** This tab's claims. */
export const askClaims = new AskClaims();
