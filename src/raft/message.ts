import type { Message, MessageType, NodeId } from './types.js';

const EMPTY = new Uint8Array(0);

/** A message with every unused field zero / false / empty. */
export function newMessage(type: MessageType, to: NodeId, fields: Partial<Message> = {}): Message {
  return {
    type,
    groupId: 0,
    from: 0,
    to,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY,
    snapshot: null,
    ...fields,
  };
}

/** Vote context marking a campaign caused by a leadership transfer (thesis §3.10). */
export const TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]);

export const EMPTY_BYTES = EMPTY;
