/**
 * Reading the kernel's messages on the `kaizen_lab` comm (the types are generated from the kernel's
 * `kaizen_lab/notebook/protocol.py` into `protocol.ts`).
 *
 * A message from the kernel is checked before it is trusted: `readReply` returns a reply only when its `type` is
 * one of the protocol's and its main field has the expected shape, so an older or newer kernel cannot make the
 * sidebar throw. Every switch over a message type ends in `unhandled(never)`: adding a kind to the protocol
 * fails to compile until each dispatch handles it.
 */

import type { CheckSignatureReply, ErrorReply, Reply, Request, StateReply, TraceReply } from './protocol';

/** The reply the kernel sends for each request type. */
export interface ReplyFor {
  check_signature: CheckSignatureReply;
  state: StateReply;
  trace: TraceReply;
}

/** A request as the extension builds it (the channel adds the `request_id`). */
export type Outgoing = Request extends infer R ? (R extends Request ? Omit<R, 'request_id'> : never) : never;

/** What a request gets back: its own reply, or the kernel's error. */
export type Answer<K extends Request['type']> = ReplyFor[K] | ErrorReply;

// every request type has its reply type (a compile error names a request type without one)
const everyRequestAnswered: Exclude<Request['type'], keyof ReplyFor> extends never ? true : never = true;
void everyRequestAnswered;

/** The end of an exhaustive switch: unreachable for the types, `null` for a message of an unknown kind. */
export function unhandled(value: never): null {
  void value;
  return null;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** `data` as a reply of the protocol, or `null` when it is not one. */
export function readReply(data: unknown): Reply | null {
  if (!isObject(data) || typeof data.type !== 'string') {
    return null;
  }
  const reply = data as unknown as Reply;
  switch (reply.type) {
    case 'check_signature':
      return Array.isArray(reply.errors) ? reply : null;
    case 'state':
      return [reply.signatures, reply.agents, reply.mcp_servers, reply.runs].every(Array.isArray) ? reply : null;
    case 'trace':
      return typeof reply.html === 'string' && typeof reply.run_id === 'string' ? reply : null;
    case 'error':
      return typeof reply.error === 'string' ? reply : null;
    default:
      return unhandled(reply);
  }
}

/** The reply to a request of type `kind`, or `null` (no reply, or one of another kind). */
export function answerTo<K extends Request['type']>(kind: K, reply: Reply | null): Answer<K> | null {
  if (reply === null) {
    return null;
  }
  return reply.type === kind || reply.type === 'error' ? (reply as Answer<K>) : null;
}
