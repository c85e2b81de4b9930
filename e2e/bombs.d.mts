/** Memory bombs: agent program sources by name. */
export declare const BOMBS: Record<string, string>;
