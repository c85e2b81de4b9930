/** Serves `root` (default dist/) with no headers but Content-Type, on a free loopback port. */
export function serveStatic(root?: string): Promise<{ origin: string; close(): Promise<void> }>;
