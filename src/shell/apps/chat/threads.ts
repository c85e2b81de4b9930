/**
 * Chat threads, kept by the page in its own IndexedDB database (not the
 * kernel's): a thread is the user's view of a conversation, which no agent may
 * read, so it stays out of the syscall surface. What the agent itself knows is
 * its short-term memory in the kernel; when that agent is gone (the OS closed),
 * the thread's history starts it again.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { ChatMessage } from '../../../abi/chat';

export interface ChatItem {
  kind: 'user' | 'assistant' | 'tool' | 'error';
  text: string;
  /** A tool card: its call and result. */
  tool?: { name: string; args: unknown; result: unknown; ok: boolean };
  /** The answer was stopped midway. */
  stopped?: boolean;
  /**
   * Why an answer ended early, kept with the thread so it is still said after a reload:
   * 'length' it reached its length limit (max tokens); 'closed' the page went away while it was
   * being written.
   */
  cut?: 'length' | 'closed';
  /** Being written (set on the placeholder, cleared when its turn ends): found on load, it was cut. */
  pending?: boolean;
}

export interface Thread {
  id: string;
  title: string;
  /** The model its agent uses. */
  model: string;
  /** Whether its agent offers the model tools (off for story models). */
  tools: boolean;
  /** Its agent, while one runs. */
  pid: number | null;
  items: ChatItem[];
  createdAt: number;
  updatedAt: number;
}

interface ChatDB extends DBSchema {
  threads: { key: string; value: Thread; indexes: { updatedAt: number } };
}

const DB_NAME = 'agentos-chat';

export class ThreadStore {
  private constructor(private readonly db: IDBPDatabase<ChatDB>) {}

  static async open(): Promise<ThreadStore> {
    const db = await openDB<ChatDB>(DB_NAME, 1, {
      upgrade(d) {
        d.createObjectStore('threads', { keyPath: 'id' }).createIndex('updatedAt', 'updatedAt');
      },
    });
    return new ThreadStore(db);
  }

  /** Newest first. */
  async list(): Promise<Thread[]> {
    return (await this.db.getAllFromIndex('threads', 'updatedAt')).reverse();
  }

  get(id: string): Promise<Thread | undefined> {
    return this.db.get('threads', id);
  }

  async put(t: Thread): Promise<void> {
    await this.db.put('threads', structuredClone(t));
  }

  async delete(id: string): Promise<void> {
    await this.db.delete('threads', id);
  }
}

export function newThread(model: string, tools: boolean): Thread {
  const now = Date.now();
  return {
    id: crypto.randomUUID(),
    title: 'New chat',
    model,
    tools,
    pid: null,
    items: [],
    createdAt: now,
    updatedAt: now,
  };
}

/** The conversation as chat messages, to start an agent again with it (tool cards and errors left out). */
export function historyOf(items: ChatItem[]): ChatMessage[] {
  return items
    .filter((i) => (i.kind === 'user' || i.kind === 'assistant') && i.text)
    .map((i) => ({ role: i.kind as 'user' | 'assistant', content: i.text }));
}

/**
 * Answers still marked as being written when the threads are read back: the page that was
 * writing them went away, so they were cut. Marks them (in place); returns whether any was.
 */
export function markInterrupted(t: Thread): boolean {
  let changed = false;
  t.items = t.items.map((i) => {
    if (!i.pending) return i;
    changed = true;
    const { pending: _p, ...rest } = i;
    return { ...rest, cut: 'closed' };
  });
  return changed;
}

export const titleOf = (text: string): string => {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 40 ? `${t.slice(0, 39)}…` : t || 'New chat';
};
