/**
 * What the chat app and the chat agent say to each other. The app sends
 * bus messages (a follow-up, regenerate, stop); the agent streams its answer to
 * stdout and ends each answer with the mark terminals use for "command
 * finished" (OSC 133;D;<status>, from shell integration), so any reader of its
 * output can tell the turns apart.
 */
import type { ChatMessage, ToolSpec } from '../../abi/chat';

export type ChatControl =
  /** A follow-up. `offer`: tools the user has that fit it, which the agent may ask to be allowed. */
  | { kind: 'say'; text: string; offer?: ToolSpec[] }
  /** Answer the last message again, differently. */
  | { kind: 'regenerate' }
  /** Stop the answer being written (the conversation goes on). */
  | { kind: 'stop' };

export interface ChatAgentArgs {
  model?: string;
  system?: string;
  /** The conversation so far, when the agent is started again for an existing thread. */
  history?: ChatMessage[];
  /** Tools offered with the first message (see ChatControl 'say'). */
  offer?: ToolSpec[];
  maxTokens?: number;
  /** Whether to give the model tools at all (off for story models, which only continue text). */
  tools?: boolean;
}

/**
 * How a turn ended: 0 answered, 1 failed, 2 cut off at its length limit (the model's answer
 * reached max_tokens: finish_reason 'length'), 130 stopped (as a shell's Ctrl+C).
 */
export type TurnStatus = 0 | 1 | 2 | 130;

const ESC = String.fromCharCode(27);
const BEL = String.fromCharCode(7);
export const turnEnd = (status: TurnStatus): string => `${ESC}]133;D;${status}${BEL}`;

/** Splits agent output into text and turn ends, in order. */
export function splitTurns(data: string): Array<{ text: string } | { end: TurnStatus }> {
  const out: Array<{ text: string } | { end: TurnStatus }> = [];
  const re = new RegExp(`${ESC}\\]133;D;(\\d+)${BEL}`, 'g');
  let at = 0;
  for (const m of data.matchAll(re)) {
    if (m.index > at) out.push({ text: data.slice(at, m.index) });
    out.push({ end: Number(m[1]) as TurnStatus });
    at = m.index + m[0].length;
  }
  if (at < data.length) out.push({ text: data.slice(at) });
  return out;
}

export const CHAT_AGENT = 'chat-agent';
