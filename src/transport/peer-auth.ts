/**
 * Peer authentication with a shared cluster secret: an HMAC challenge and
 * response in the handshake, so the secret itself never crosses the wire.
 *
 *   dialer   -> acceptor  Handshake { from, to, cluster, nonceD }
 *   acceptor -> dialer    Handshake { from, to, cluster, nonceA, macA }
 *   dialer   -> acceptor  Auth      { macD }
 *
 *   macA = HMAC-SHA256(secret, "raftis-peer acceptor" | cluster | dialer | acceptor | nonceD | nonceA)
 *   macD = HMAC-SHA256(secret, "raftis-peer dialer"   | cluster | dialer | acceptor | nonceD | nonceA)
 *
 * Each side proves it knows the secret over a nonce the other side chose
 * just now, so a recorded exchange cannot be replayed, and the role label
 * keeps the acceptor's answer from being reflected back as the dialer's.
 * MACs are compared in constant time. Nonces come from the operating
 * system's CSPRNG, not from Env's seeded random: that one is predictable by
 * design (replayable simulations), which a challenge must not be.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';

export const NONCE_BYTES = 16;

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

export interface AuthTranscript {
  clusterId: string;
  dialer: NodeId;
  acceptor: NodeId;
  dialerNonce: Uint8Array;
  acceptorNonce: Uint8Array;
}

/** The MAC one side sends; empty when no secret is configured. */
export function peerMac(secret: string, role: 'dialer' | 'acceptor', t: AuthTranscript): Uint8Array {
  if (secret === '') return new Uint8Array(0);
  const h = createHmac('sha256', secret);
  const field = (b: Uint8Array | string): void => {
    const bytes = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len);
    h.update(bytes);
  };
  field(`raftis-peer ${role}`);
  field(t.clusterId);
  field(String(t.dialer));
  field(String(t.acceptor));
  field(t.dialerNonce);
  field(t.acceptorNonce);
  return new Uint8Array(h.digest());
}

/** True when `got` is the MAC `secret` gives (always true without a secret). Constant time in the MAC's bytes. */
export function macMatches(secret: string, role: 'dialer' | 'acceptor', t: AuthTranscript, got: Uint8Array): boolean {
  if (secret === '') return true;
  const want = peerMac(secret, role, t);
  // Lengths are public (always 32 for a real MAC); timingSafeEqual needs them equal.
  if (got.length !== want.length) return false;
  return timingSafeEqual(got, want);
}

/**
 * Logs refused peers without a storm: the first refusal of a (source,
 * reason) pair in a window goes out at warn, later ones at debug, and the
 * next warn says how many were folded into it. A rogue that redials every
 * few milliseconds costs one warn line per window.
 */
export class RefusalLog {
  private readonly seen = new Map<string, { sinceMs: number; suppressed: number }>();

  constructor(
    private readonly log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void },
    private readonly nowMs: () => number,
    private readonly windowMs = 60_000,
    private readonly keysMax = 1024,
  ) {}

  refused(source: string, reason: string, fields: object, msg: string): void {
    const key = `${source}\u0000${reason}`;
    const now = this.nowMs();
    const entry = this.seen.get(key);
    if (entry !== undefined && now - entry.sinceMs < this.windowMs) {
      entry.suppressed++;
      this.log.debug({ ...fields, source, reason }, msg);
      return;
    }
    if (this.seen.size >= this.keysMax) this.seen.clear();
    this.seen.set(key, { sinceMs: now, suppressed: 0 });
    this.log.warn({ ...fields, source, reason, ...(entry ? { suppressedBefore: entry.suppressed } : {}) }, msg);
  }
}
