/**
 * `npm run bench:floor`: how close can any Node program come to redis-server at redis-benchmark
 * -P 1 on this machine? Two toy servers, written for nothing but speed, run side by side with a
 * real redis-server, runs alternating:
 *
 * - **kv**: one process serving GET and SET from a Map; no persistence, no replication, no
 *   checks. The floor of one Node event loop: shared-buffer socket reads (as raftis), one parse
 *   loop, one socket write per client per turn.
 * - **replicated**: SET through a leader and two followers on loopback. Each appends every turn's
 *   batch to a log file and fdatasyncs it (followers with one write in flight at a time, as
 *   raftis), the leader sends each batch to both followers at once and answers a batch once two
 *   of the three have it on disk. The floor of a Raft-shaped write path: no terms, no elections,
 *   no state-machine storage, no routing.
 *
 * A second redis-server with `appendfsync always` (it fdatasyncs its AOF every event-loop turn
 * before answering that turn's writes) gives the C reference for a durable, unreplicated SET.
 *
 * raftis does all the toys do and much more, so the toys' ratios bound what raftis can reach on
 * this machine (docs/decisions.md, "The Node floor at -P 1").
 *
 * Options: --requests N (per run; default 200000), --rounds N (default 3),
 *          --base-port P (default 27801: kv on P, leader on P+1, followers' peer ports P+11, P+12,
 *          redis-server on P+20, redis-server with AOF on P+21)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasync, mkdirSync, mkdtempSync, openSync, rmSync, writev } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/launcher.js';
import { readChunks } from '../src/transport/socket-read.js';
import { arg, childrenCpuMs, processCpuMs, redisBenchmark, sleep, spawnRedis, waitReady, type Result } from './common.js';

const OK = Buffer.from('+OK\r\n');
const NIL = Buffer.from('$-1\r\n');
const ERR = Buffer.from('-ERR unknown command\r\n');

/**
 * Calls `onCommand` with the arguments of every whole RESP array in `buf` from `start`, and
 * returns where the first incomplete one begins (buf.length when all were whole).
 */
function parseCommands(buf: Buffer, start: number, onCommand: (args: Buffer[]) => void): number {
  let p = start;
  for (;;) {
    if (p >= buf.length) return p;
    const begin = p;
    let nl = buf.indexOf(10, p);
    if (nl < 0) return begin;
    const n = Number(buf.toString('latin1', p + 1, nl - 1));
    p = nl + 1;
    const args: Buffer[] = [];
    for (let k = 0; k < n; k++) {
      nl = buf.indexOf(10, p);
      if (nl < 0) return begin;
      const len = Number(buf.toString('latin1', p + 1, nl - 1));
      p = nl + 1;
      if (p + len + 2 > buf.length) return begin;
      args.push(buf.subarray(p, p + len));
      p += len + 2;
    }
    onCommand(args);
  }
}

/** A client socket: requests in, replies gathered and written once per turn. */
class ToyClient {
  private rest: Buffer | null = null;
  out: Buffer[] = [];

  constructor(readonly socket: Socket, onCommand: (client: ToyClient, args: Buffer[]) => void) {
    socket.setNoDelay(true);
    const each = (args: Buffer[]): void => onCommand(this, args);
    readChunks(socket, (chunk) => {
      const buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
      const used = parseCommands(buf, 0, each);
      this.rest = used === buf.length ? null : buf.subarray(used);
    });
    socket.on('error', () => {});
  }
}

/** Writes every client's gathered replies once per turn. */
class ReplyFlusher {
  private readonly dirty = new Set<ToyClient>();
  private scheduled = false;

  add(client: ToyClient, reply: Buffer): void {
    client.out.push(reply);
    this.dirty.add(client);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    for (const c of this.dirty) {
      c.socket.write(c.out.length === 1 ? c.out[0]! : Buffer.concat(c.out));
      c.out = [];
    }
    this.dirty.clear();
  };
}

function serveKv(port: number): void {
  const map = new Map<string, Buffer>();
  const replies = new ReplyFlusher();
  createServer({ pauseOnConnect: true }, (socket) => new ToyClient(socket, (client, args) => {
    const c = args[0]![0]! | 0x20;
    if (c === 0x67 && args.length === 2) {
      const v = map.get(args[1]!.toString('latin1'));
      replies.add(client, v === undefined ? NIL : Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]));
    } else if (c === 0x73 && args.length === 3) {
      map.set(args[1]!.toString('latin1'), Buffer.from(args[2]!));
      replies.add(client, OK);
    } else {
      replies.add(client, ERR);
    }
  })).listen(port, '127.0.0.1');
}

/** Appends batches to a log file, one writev + fdatasync in flight at a time. */
class ToyLog {
  private readonly fd: number;
  private pending: Buffer[] = [];
  private pendingSeq = 0;
  private writing = false;

  constructor(path: string, private readonly onPersisted: (seq: number) => void) {
    this.fd = openSync(path, 'a');
  }

  append(seq: number, frame: Buffer): void {
    this.pending.push(frame);
    this.pendingSeq = seq;
    if (!this.writing) this.writeNext();
  }

  private writeNext(): void {
    const bufs = this.pending;
    const seq = this.pendingSeq;
    this.pending = [];
    this.writing = true;
    writev(this.fd, bufs, (err) => {
      if (err) throw err;
      fdatasync(this.fd, (err2) => {
        if (err2) throw err2;
        this.writing = false;
        this.onPersisted(seq);
        if (this.pending.length > 0) this.writeNext();
      });
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Splits a byte stream into [u32 length][body] frames. */
function onFrames(socket: Socket, onFrame: (body: Buffer) => void): void {
  let rest: Buffer | null = null;
  readChunks(socket, (chunk) => {
    let buf = rest === null ? chunk : Buffer.concat([rest, chunk]);
    let p = 0;
    while (buf.length - p >= 4) {
      const len = buf.readUInt32LE(p);
      if (buf.length - p - 4 < len) break;
      onFrame(buf.subarray(p + 4, p + 4 + len));
      p += 4 + len;
    }
    buf = buf.subarray(p);
    rest = buf.length > 0 ? buf : null;
  });
}

function frame(body: Buffer): Buffer {
  const f = Buffer.allocUnsafe(4 + body.length);
  f.writeUInt32LE(body.length, 0);
  body.copy(f, 4);
  return f;
}

function serveFollower(peerPort: number, dir: string): void {
  createServer({ pauseOnConnect: true }, (socket) => {
    socket.setNoDelay(true);
    const log = new ToyLog(join(dir, `follower-${peerPort}.log`), (seq) => {
      const ack = Buffer.allocUnsafe(8);
      ack.writeUInt32LE(4, 0);
      ack.writeUInt32LE(seq, 4);
      socket.write(ack);
    });
    // The body starts with the batch's sequence number; the whole frame goes to the log.
    onFrames(socket, (body) => log.append(body.readUInt32LE(0), body));
    socket.on('error', () => {});
  }).listen(peerPort, '127.0.0.1');
}

interface Batch {
  seq: number;
  sets: Array<[string, Buffer]>;
  clients: ToyClient[];
}

function serveLeader(port: number, followerPorts: number[], dir: string): void {
  const map = new Map<string, Buffer>();
  const replies = new ReplyFlusher();
  const persisted = [0, 0, 0]; // the leader's own log, follower 1, follower 2
  const inFlight: Batch[] = [];
  let applied = 0;
  let seq = 0;
  let open: Batch | null = null;

  const advance = (): void => {
    const committed = [...persisted].sort((a, b) => a - b)[1]!; // on two of the three disks
    while (applied < committed) {
      const b = inFlight.shift()!;
      for (const [k, v] of b.sets) map.set(k, v);
      for (const c of b.clients) replies.add(c, OK);
      applied = b.seq;
    }
  };
  const own = new ToyLog(join(dir, 'leader.log'), (s) => {
    persisted[0] = s;
    advance();
  });
  const peers = followerPorts.map((p, i) => {
    const s = connect(p, '127.0.0.1');
    s.setNoDelay(true);
    s.on('error', (err) => {
      process.stderr.write(`replicated toy: follower on port ${p}: ${err.message}\n`);
      process.exit(1);
    });
    onFrames(s, (body) => {
      persisted[i + 1] = body.readUInt32LE(0);
      advance();
    });
    return s;
  });
  // Every turn's SETs become one batch: to the own log and to both followers at once.
  const send = (): void => {
    const b = open!;
    open = null;
    const parts: Buffer[] = [Buffer.alloc(4)];
    parts[0]!.writeUInt32LE(b.seq, 0);
    for (const [k, v] of b.sets) {
      const h = Buffer.allocUnsafe(8);
      h.writeUInt32LE(Buffer.byteLength(k, 'latin1'), 0);
      h.writeUInt32LE(v.length, 4);
      parts.push(h, Buffer.from(k, 'latin1'), v);
    }
    const f = frame(Buffer.concat(parts));
    for (const p of peers) p.write(f);
    own.append(b.seq, f);
    inFlight.push(b);
  };
  createServer({ pauseOnConnect: true }, (socket) => new ToyClient(socket, (client, args) => {
    if ((args[0]![0]! | 0x20) === 0x73 && args.length === 3) {
      if (open === null) {
        open = { seq: ++seq, sets: [], clients: [] };
        setImmediate(send);
      }
      open.sets.push([args[1]!.toString('latin1'), Buffer.from(args[2]!)]);
      open.clients.push(client);
    } else {
      replies.add(client, ERR);
    }
  })).listen(port, '127.0.0.1');
}

async function main(): Promise<void> {
  const requests = Number(arg('requests', '200000'));
  const rounds = Number(arg('rounds', '3'));
  const base = Number(arg('base-port', '27801'));
  const redisPort = base + 20;
  const dir = mkdtempSync(join(tmpdir(), 'raftis-floor-'));
  const self = fileURLToPath(import.meta.url);
  const procs: ChildProcess[] = [];
  const toy = (...args: string[]): ChildProcess => {
    const p = spawn(process.execPath, [...NODE_FLAGS, self, '--serve', ...args, '--dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(p);
    return p;
  };
  try {
    const redis = spawnRedis(redisPort);
    procs.push(redis);
    // The C reference for a durable write: Redis appends each event-loop turn's writes to its AOF
    // and fdatasyncs it before answering them, as the toy and raftis do per batch (no replication).
    const aofDir = join(dir, 'aof');
    mkdirSync(aofDir);
    const redisAof = spawnRedis(redisPort + 1, aofDir);
    procs.push(redisAof);
    const kv = toy('kv', '--port', String(base));
    const f1 = toy('follower', '--port', String(base + 11));
    const f2 = toy('follower', '--port', String(base + 12));
    await sleep(500);
    const leader = toy('leader', '--port', String(base + 1), '--followers', `${base + 11},${base + 12}`);
    for (const p of [redisPort, redisPort + 1, base, base + 1]) await waitReady(p, 10_000);

    const targets: Array<{ name: string; port: number; tests: string[]; pids: number[] }> = [
      { name: 'redis-server', port: redisPort, tests: ['set', 'get'], pids: [redis.pid!] },
      { name: 'redis-server, AOF fsync always', port: redisPort + 1, tests: ['set'], pids: [redisAof.pid!] },
      { name: 'kv toy (1 process)', port: base, tests: ['set', 'get'], pids: [kv.pid!] },
      { name: 'replicated toy (3 processes)', port: base + 1, tests: ['set'], pids: [leader.pid!, f1.pid!, f2.pid!] },
    ];
    const runs = new Map<string, Array<Result & { cpuUs: number; cpuEach: string; clientUs: number }>>();
    const run = (t: (typeof targets)[number], test: string): void => {
      const before = t.pids.map(processCpuMs);
      const clientBefore = childrenCpuMs();
      const r = redisBenchmark({ port: t.port, test, pipeline: 1, requests, keyspace: 100000, timeoutMs: 600_000 });
      const clientUs = (childrenCpuMs() - clientBefore) * 1000 / requests;
      const each = t.pids.map((pid, i) => (processCpuMs(pid) - before[i]!) * 1000 / requests);
      const cpuUs = each.reduce((a, b) => a + b, 0);
      const cpuEach = each.length > 1 ? ` (${each.map((us) => Math.round(us)).join(' / ')})` : '';
      const key = `${t.name}|${test}`;
      runs.set(key, [...(runs.get(key) ?? []), { ...r, cpuUs, cpuEach, clientUs }]);
      process.stderr.write(`${t.name} ${test.toUpperCase()} -P1: ${Math.round(r.rps)} ops/s, ${cpuUs.toFixed(1)}${cpuEach} CPU µs/op\n`);
    };
    for (const t of targets) for (const test of t.tests) run(t, test); // warm-up
    runs.clear();
    for (let i = 0; i < rounds; i++) for (const t of targets) for (const test of t.tests) run(t, test);

    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\nredis-benchmark -c 50 -d 100 -r 100000 -P 1, ${rounds} rounds alternating, medians\n`);
    // With every core busy, a server costing S CPU µs per request and a client costing C cannot
    // exceed cores * 1e6 / (S + C) requests per second, however its work were spread over threads.
    const cores = availableParallelism();
    console.log(`| test | server | ops/s | p50 ms | of Redis | server CPU µs/op: all (leader / followers) | redis-benchmark CPU µs/op | CPU ceiling on ${cores} cores, of Redis |`);
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const test of ['set', 'get']) {
      const redisRps = median(runs.get(`redis-server|${test}`)!.map((r) => r.rps));
      for (const t of targets) {
        const rs = runs.get(`${t.name}|${test}`);
        if (!rs) continue;
        const rps = median(rs.map((r) => r.rps));
        const mid = [...rs].sort((a, b) => a.cpuUs - b.cpuUs)[Math.floor(rs.length / 2)]!;
        const clientUs = median(rs.map((r) => r.clientUs));
        const ceiling = cores * 1e6 / (mid.cpuUs + clientUs) / redisRps;
        console.log(`| ${test.toUpperCase()} | ${t.name} | ${Math.round(rps).toLocaleString('en-US')} | ${median(rs.map((r) => r.p50)).toFixed(2)} | ` +
          `${(rps / redisRps).toFixed(2)} | ${mid.cpuUs.toFixed(1)}${mid.cpuEach} | ${clientUs.toFixed(1)} | ${ceiling.toFixed(2)} |`);
      }
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve')) {
  const role = arg('serve', '');
  const port = Number(arg('port', '0'));
  const dir = arg('dir', tmpdir());
  if (role === 'kv') serveKv(port);
  else if (role === 'follower') serveFollower(port, dir);
  else if (role === 'leader') serveLeader(port, arg('followers', '').split(',').map(Number), dir);
  else throw new Error(`unknown role ${role}`);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
