// Proves the Raft message codec round-trips every message shape (hand-built and seeded-random)
// and that decoding truncated, bit-flipped or random bytes only ever throws CodecError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecError,
  decodeConfChange,
  decodeMessage,
  decodeMessages,
  encodeConfChange,
  encodeMessage,
  encodeMessages,
} from '../../src/raft/codec.js';
import { ConfChangeType, EntryType, MessageType, type Entry, type Message } from '../../src/raft/types.js';
import { SeededRandom } from '../../src/env/random.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function msg(over: Partial<Message>): Message {
  return {
    type: MessageType.Heartbeat,
    groupId: 0,
    from: 0,
    to: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    snapshot: null,
    ...over,
  };
}

function randomBytes(rng: SeededRandom, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(0, 255);
  return out;
}

function randomInt(rng: SeededRandom): number {
  switch (rng.int(0, 3)) {
    case 0: return 0;
    case 1: return rng.int(1, 127);
    case 2: return rng.int(128, 2 ** 31);
    default: return Math.floor(rng.next() * Number.MAX_SAFE_INTEGER);
  }
}

function randomMessage(rng: SeededRandom): Message {
  const entries: Entry[] = [];
  const nEntries = rng.chance(0.5) ? rng.int(1, 5) : 0;
  for (let i = 0; i < nEntries; i++) {
    entries.push({
      term: randomInt(rng),
      index: randomInt(rng),
      type: rng.chance(0.2) ? EntryType.ConfChange : EntryType.Normal,
      data: randomBytes(rng, rng.int(0, 40)),
    });
  }
  const voters = Array.from({ length: rng.int(0, 5) }, () => randomInt(rng));
  const learners = Array.from({ length: rng.int(0, 2) }, () => randomInt(rng));
  return {
    type: rng.int(1, 13) as MessageType,
    groupId: randomInt(rng),
    from: randomInt(rng),
    to: randomInt(rng),
    term: randomInt(rng),
    logTerm: randomInt(rng),
    index: randomInt(rng),
    entries,
    commit: randomInt(rng),
    reject: rng.chance(0.3),
    rejectHint: randomInt(rng),
    context: rng.chance(0.3) ? randomBytes(rng, rng.int(1, 20)) : new Uint8Array(0),
    snapshot: rng.chance(0.2)
      ? { meta: { index: randomInt(rng), term: randomInt(rng), confState: { voters, learners } }, data: randomBytes(rng, rng.int(0, 100)) }
      : null,
  };
}

const EXAMPLES: Message[] = [
  msg({ type: MessageType.App, groupId: 7, from: 1, to: 2, term: 3, logTerm: 3, index: 10, commit: 9,
    entries: [
      { term: 3, index: 11, type: EntryType.Normal, data: bytes('set k v') },
      { term: 3, index: 12, type: EntryType.Normal, data: new Uint8Array(0) },
      { term: 3, index: 13, type: EntryType.ConfChange,
        data: encodeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4, context: bytes('10.0.0.4:7000') }) },
    ] }),
  msg({ type: MessageType.AppResp, groupId: 7, from: 2, to: 1, term: 3, index: 13 }),
  msg({ type: MessageType.AppResp, groupId: 7, from: 2, to: 1, term: 3, index: 20, reject: true, rejectHint: 12, logTerm: 2 }),
  msg({ type: MessageType.Vote, groupId: 1, from: 1, to: 3, term: 4, logTerm: 3, index: 13 }),
  msg({ type: MessageType.Vote, groupId: 1, from: 1, to: 3, term: 4, logTerm: 3, index: 13, context: bytes('transfer') }),
  msg({ type: MessageType.VoteResp, groupId: 1, from: 3, to: 1, term: 4, reject: true }),
  msg({ type: MessageType.PreVote, groupId: 1, from: 1, to: 3, term: 5, logTerm: 3, index: 13 }),
  msg({ type: MessageType.PreVoteResp, groupId: 1, from: 3, to: 1, term: 5 }),
  msg({ type: MessageType.Heartbeat, groupId: 2, from: 1, to: 2, term: 3, commit: 13, context: bytes('read-1') }),
  msg({ type: MessageType.HeartbeatResp, groupId: 2, from: 2, to: 1, term: 3, context: bytes('read-1') }),
  msg({ type: MessageType.Snap, groupId: 9, from: 1, to: 5, term: 8,
    snapshot: { meta: { index: 1000, term: 7, confState: { voters: [1, 2, 3], learners: [5] } }, data: randomBytes(new SeededRandom(1), 5000) } }),
  msg({ type: MessageType.Snap, groupId: 9, from: 1, to: 5, term: 8,
    snapshot: { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) } }),
  msg({ type: MessageType.TimeoutNow, groupId: 3, from: 1, to: 2, term: 8 }),
  msg({ type: MessageType.ReadIndex, groupId: 3, from: 2, to: 1, term: 8, context: bytes('r') }),
  msg({ type: MessageType.ReadIndexResp, groupId: 3, from: 1, to: 2, term: 8, index: 77, context: bytes('r') }),
  msg({ type: MessageType.TransferLeader, groupId: 3, from: 2, to: 1, term: 8, index: 2 }),
  msg({ type: MessageType.App, groupId: Number.MAX_SAFE_INTEGER, from: 2 ** 40, to: 2 ** 31, term: 2 ** 32,
    index: Number.MAX_SAFE_INTEGER, commit: 2 ** 31 - 1 }),
];

test('every message type round-trips, alone and as one batch', () => {
  const seen = new Set<number>();
  for (const m of EXAMPLES) {
    seen.add(m.type);
    assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  }
  assert.equal(seen.size, 13, 'examples cover all 13 message types');
  assert.deepEqual(decodeMessages(encodeMessages(EXAMPLES)), EXAMPLES);
  assert.deepEqual(decodeMessages(encodeMessages([])), []);
});

test('conf changes round-trip and reject unknown types', () => {
  for (const type of [ConfChangeType.AddVoter, ConfChangeType.RemoveNode, ConfChangeType.AddLearner]) {
    const c = { type, nodeId: 12345, context: bytes('host:1') };
    assert.deepEqual(decodeConfChange(encodeConfChange(c)), c);
  }
  assert.throws(() => decodeConfChange(Uint8Array.of(3, 1, 0)), (e: unknown) => e instanceof CodecError && e.code === 'badEnum');
});

test('decoded byte fields are copies, not views of the input', () => {
  const wire = encodeMessage(EXAMPLES[0]);
  const m = decodeMessage(wire);
  wire.fill(0);
  assert.deepEqual(m, EXAMPLES[0]);
});

test('seeded random messages round-trip (seed 42, 2000 batches)', () => {
  const rng = new SeededRandom(42);
  for (let i = 0; i < 2000; i++) {
    const batch = Array.from({ length: rng.int(0, 6) }, () => randomMessage(rng));
    assert.deepEqual(decodeMessages(encodeMessages(batch)), batch);
    if (batch.length > 0) assert.deepEqual(decodeMessage(encodeMessage(batch[0])), batch[0]);
  }
});

test('encoding refuses fields that cannot be represented', () => {
  const bad = [
    msg({ term: -1 }),
    msg({ index: 1.5 }),
    msg({ commit: 2 ** 53 }),
    msg({ type: 99 as MessageType }),
    msg({ type: MessageType.App, entries: [{ term: 1, index: 1, type: 7 as EntryType, data: new Uint8Array(0) }] }),
  ];
  for (const m of bad) {
    assert.throws(() => encodeMessage(m), (e: unknown) => e instanceof CodecError && e.code === 'invalidValue');
  }
});

test('typed errors for specific malformations', () => {
  const code = (f: () => unknown): string => {
    try { f(); } catch (e) { assert.ok(e instanceof CodecError); return e.code; }
    return 'none';
  };
  const good = encodeMessage(EXAMPLES[0]);
  assert.equal(code(() => decodeMessage(new Uint8Array(0))), 'truncated');
  assert.equal(code(() => decodeMessage(Uint8Array.of(2, ...good.subarray(1)))), 'badVersion');
  assert.equal(code(() => decodeMessage(Uint8Array.of(...good, 0))), 'trailingBytes');
  assert.equal(code(() => decodeMessage(Uint8Array.of(1, 0, 0))), 'badEnum');
  assert.equal(code(() => decodeMessage(Uint8Array.of(1, 1, 0x80))), 'badEnum');
  // Nine continuation bytes: longer than any safe integer needs.
  assert.equal(code(() => decodeMessage(Uint8Array.of(1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))), 'varintOverflow');
  // A batch claiming 2^50 messages in a few bytes: refused before any allocation.
  assert.equal(code(() => decodeMessages(Uint8Array.of(1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))), 'badLength');
  // A context claiming a length of about 2^45 bytes.
  const forged = Uint8Array.of(1, 7, FLAG_CONTEXT_FOR_TEST, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f);
  assert.equal(code(() => decodeMessage(forged)), 'badLength');
});
const FLAG_CONTEXT_FOR_TEST = 8;

test('fuzz: truncations, bit flips and random bytes throw only CodecError (seed 7, 100k inputs)', () => {
  const rng = new SeededRandom(7);
  const decoders = [decodeMessage, decodeMessages, decodeConfChange];
  let decodedOk = 0;
  let rejected = 0;
  const attempt = (input: Uint8Array, decode: (b: Uint8Array) => unknown): void => {
    try {
      decode(input);
      decodedOk++;
    } catch (e) {
      if (!(e instanceof CodecError)) throw new Error(`non-CodecError on input ${Buffer.from(input).toString('hex')}: ${String(e)}`);
      rejected++;
    }
  };
  // A pool of valid encodings to mutate; generating a fresh message per input would dominate the run time.
  const pool = Array.from({ length: 500 }, () => {
    const batch = Array.from({ length: rng.int(1, 3) }, () => randomMessage(rng));
    return rng.chance(0.5) ? { wire: encodeMessages(batch), decode: decodeMessages } : { wire: encodeMessage(batch[0]), decode: decodeMessage };
  });
  for (let inputs = 0; inputs < 100_000; inputs += 3) {
    const { wire, decode } = rng.pick(pool);
    // Truncation at a random point.
    attempt(wire.subarray(0, rng.int(0, wire.length - 1)), decode);
    // One to three bit flips.
    const flipped = wire.slice();
    for (let k = rng.int(1, 3); k > 0; k--) flipped[rng.int(0, flipped.length - 1)] ^= 1 << rng.int(0, 7);
    attempt(flipped, decode);
    // Random bytes, sometimes starting with a valid version byte, against any decoder.
    const junk = randomBytes(rng, rng.int(0, 64));
    if (junk.length > 0 && rng.chance(0.5)) junk[0] = 1;
    attempt(junk, rng.pick(decoders));
  }
  assert.ok(rejected > 0 && decodedOk > 0, `both outcomes exercised (ok=${decodedOk}, rejected=${rejected})`);
});

test('each decoded message of a batch pins only its own bytes', () => {
  const big = msg({ type: MessageType.Snap, snapshot: { meta: { index: 1, term: 1, confState: { voters: [1], learners: [] } }, data: new Uint8Array(100_000) } });
  const small = EXAMPLES[0];
  const [, decodedSmall] = decodeMessages(encodeMessages([big, small]));
  const buffer = decodedSmall.entries[0].data.buffer;
  assert.ok(buffer.byteLength < 1000, `small message's bytes live in a ${buffer.byteLength}-byte block`);
  for (const e of decodedSmall.entries) assert.ok(e.data.length === 0 || e.data.buffer === buffer);
});
