/**
 * Text an agent chooses that the user reads as the agent's words in the OS's own chrome (a
 * permission prompt's reason, the task shown with it). Control characters and Unicode
 * direction overrides could make it read as something else — reorder "exe.txt", start a new
 * line that looks like the OS speaking — so a reason carrying them is refused (EINVAL), and
 * a task shown beside one has them replaced.
 */
import { SysError } from '../abi/errors';
import { type Check, str } from './check';

/** C0 controls but tab and newline, DEL and C1, bidi embeddings/overrides/isolates and marks, line/paragraph separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const TRICKY = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const TRICKY_ALL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;

/** A string the user will read as the agent's: bounded, and no character that changes how the rest reads. */
export const wording =
  (opts: { min?: number; max: number }): Check<string> =>
  (v, path) => {
    const s = str(opts)(v, path);
    const m = TRICKY.exec(s);
    if (m)
      throw new SysError(
        'EINVAL',
        `${path}: U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at ${m.index} is a control or direction character; write plain text`,
      );
    return s;
  };

/** The same text with such characters shown as U+FFFD (for text the OS shows but did not check on entry). */
export const plainWording = (s: string): string => s.replace(TRICKY_ALL, '\uFFFD');
