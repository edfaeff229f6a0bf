import type { ConfChange, ConfChangeType, ConfState, NodeId } from './types.js';
import { ConfChangeType as CCT } from './types.js';

/** Thrown by decodeConfChange on bytes that are not an encoded ConfChange. */
export class ConfChangeDecodeError extends Error {
  constructor(msg: string) {
    super(`conf change: ${msg}`);
    this.name = 'ConfChangeDecodeError';
  }
}

const VERSION = 1;

/**
 * Encodes a ConfChange as entry data: version (u8), type (u8), nodeId (u32 BE),
 * context length (u32 BE), context bytes.
 */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(10 + cc.context.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, VERSION);
  view.setUint8(1, cc.type);
  view.setUint32(2, cc.nodeId >>> 0);
  view.setUint32(6, cc.context.byteLength);
  out.set(cc.context, 10);
  return out;
}

/** Decodes entry data written by encodeConfChange; throws ConfChangeDecodeError on bad bytes. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  if (bytes.byteLength < 10) throw new ConfChangeDecodeError(`too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== VERSION) throw new ConfChangeDecodeError(`unknown version ${version}`);
  const type = view.getUint8(1);
  if (type !== CCT.AddVoter && type !== CCT.RemoveNode && type !== CCT.AddLearner) {
    throw new ConfChangeDecodeError(`unknown type ${type}`);
  }
  const nodeId = view.getUint32(2);
  const len = view.getUint32(6);
  if (bytes.byteLength !== 10 + len) throw new ConfChangeDecodeError(`context length ${len} does not match ${bytes.byteLength - 10} bytes`);
  return { type: type as ConfChangeType, nodeId, context: bytes.slice(10) };
}

/**
 * Applies one change to a membership, returning the new one, or a reason why
 * the change does nothing / is invalid. Pure.
 */
export function applyConfChange(cs: ConfState, cc: ConfChange): { ok: true; confState: ConfState } | { ok: false; reason: string } {
  const id: NodeId = cc.nodeId;
  if (id === 0) return { ok: false, reason: 'node id 0' };
  const isVoter = cs.voters.includes(id);
  const isLearner = cs.learners.includes(id);
  switch (cc.type) {
    case CCT.AddVoter:
      if (isVoter) return { ok: false, reason: 'already a voter' };
      return { ok: true, confState: { voters: sorted([...cs.voters, id]), learners: cs.learners.filter((n) => n !== id) } };
    case CCT.AddLearner:
      if (isLearner) return { ok: false, reason: 'already a learner' };
      if (isVoter) return { ok: false, reason: 'cannot demote a voter to learner' };
      return { ok: true, confState: { voters: cs.voters.slice(), learners: sorted([...cs.learners, id]) } };
    case CCT.RemoveNode:
      if (!isVoter && !isLearner) return { ok: false, reason: 'not a member' };
      if (isVoter && cs.voters.length === 1) return { ok: false, reason: 'cannot remove the last voter' };
      return { ok: true, confState: { voters: cs.voters.filter((n) => n !== id), learners: cs.learners.filter((n) => n !== id) } };
    default:
      return { ok: false, reason: 'unknown type' };
  }
}

function sorted(ids: NodeId[]): NodeId[] {
  return ids.sort((a, b) => a - b);
}

/** A copy of a membership (ConfStates handed out are never shared with the core). */
export function copyConf(cs: ConfState): ConfState {
  return { voters: cs.voters.slice(), learners: cs.learners.slice() };
}
