/**
 * Simulated Redis clients. Each runs one command at a time — SET/GET/DEL on register keys,
 * INCR/GET/DEL on counter keys — through the `Dispatcher` of a node it picks (its home node,
 * or now and then any node that is up), exactly as a RESP connection would hand it over; so
 * commands for groups led elsewhere are forwarded by the Router. Each operation is recorded
 * with its invocation and completion in virtual time. An error reply, a client timeout or the
 * node dying under the request leaves a write's outcome unknown (completion +∞) and a read
 * out of the history.
 */
import type { SeededRandom } from '../../env/random.js';
import type { ClientContext } from '../../resp/connection.js';
import type { Reply } from '../../resp/encoder.js';
import type { RegisterOp } from '../linearizability.js';
import type { CounterOp } from './counter-check.js';
import type { SimNodeProcess } from './node-process.js';
import type { SimWorld } from './world.js';

/** A reply as the client library would see it. */
export type ClientReply =
  | { kind: 'simple'; value: string }
  | { kind: 'error'; message: string }
  | { kind: 'integer'; value: number }
  | { kind: 'bulk'; value: string | null };

/** Reads a RESP2 reply (forwarded replies come back encoded) or a Reply value. */
export function toClientReply(reply: Reply): ClientReply {
  switch (reply.kind) {
    case 'simple': return { kind: 'simple', value: reply.value };
    case 'error': return { kind: 'error', message: reply.message };
    case 'integer': return { kind: 'integer', value: Number(reply.value) };
    case 'bulk': return { kind: 'bulk', value: reply.value === null ? null : Buffer.from(reply.value).toString('latin1') };
    case 'null': return { kind: 'bulk', value: null };
    case 'raw': return parseResp2(reply.bytes);
    default: return { kind: 'error', message: `SIM unexpected reply kind ${reply.kind}` };
  }
}

function parseResp2(bytes: Buffer): ClientReply {
  const text = bytes.toString('latin1');
  const line = text.slice(1, text.indexOf('\r\n'));
  switch (text[0]) {
    case '+': return { kind: 'simple', value: line };
    case '-': return { kind: 'error', message: line };
    case ':': return { kind: 'integer', value: Number(line) };
    case '$': {
      const length = Number(line);
      if (length < 0) return { kind: 'bulk', value: null };
      const start = line.length + 3;
      return { kind: 'bulk', value: text.slice(start, start + length) };
    }
    default: return { kind: 'error', message: `SIM unparsable reply ${JSON.stringify(text.slice(0, 40))}` };
  }
}

/** Errors a client may get while the cluster is faulty; any other error fails the run. */
export function isExpectedError(message: string): boolean {
  return message.startsWith('CLUSTERDOWN');
}

export interface ClientOptions {
  /** A client gives up on a reply after this long (its outcome is then unknown). */
  timeoutMs: number;
  /** Most virtual ms between one reply and the next command. */
  thinkMsMax: number;
  /** Chance that a command goes to a random node rather than the client's home node. */
  wanderChance: number;
}

export interface HistoryStats {
  writesOk: number;
  readsOk: number;
  indeterminate: number;
  readsLost: number;
  errors: number;
  timeouts: number;
  /** Replies that came later than the router's promised bound. */
  late: number;
  /** Slowest reply seen, in virtual ms. */
  latencyMaxMs: number;
}

/** Everything the clients saw, for the checkers and the run's hash. */
export class History {
  readonly registers: RegisterOp[] = [];
  readonly counters: CounterOp[] = [];
  /** One line per finished operation, in completion order (hashed to compare runs). */
  readonly lines: string[] = [];
  readonly stats: HistoryStats = {
    writesOk: 0, readsOk: 0, indeterminate: 0, readsLost: 0, errors: 0, timeouts: 0, late: 0, latencyMaxMs: 0,
  };
}

export interface KeySet {
  registers: string[];
  counters: string[];
}

type Command = { name: 'set' | 'get' | 'del' | 'incr'; key: string; counter: boolean; value?: string };

interface InFlight {
  nodeId: number;
  incarnation: number;
  done: boolean;
}

export class SimClient {
  /** Operations that completed with a non-error reply since `markHeal()`. */
  okSinceHeal = 0;
  private healed = false;
  private stopped = false;
  private busy = false;
  private opSeq = 0;
  private current: InFlight | null = null;
  private currentFinish: ((reply: ClientReply | 'timeout' | 'crash') => void) | null = null;
  private readonly ctx: ClientContext;
  private probes: Array<{ node: SimNodeProcess; key: string }> = [];

  constructor(
    readonly clientId: number,
    private readonly world: SimWorld,
    private readonly random: SeededRandom,
    private readonly nodes: readonly SimNodeProcess[],
    private readonly keys: KeySet,
    private readonly options: ClientOptions,
    private readonly history: History,
    /** The bound on a reply the router promises (requestTimeoutMs plus slack), for the `late` count. */
    private readonly replyBoundMs: number,
    private home: number,
  ) {
    this.ctx = {
      id: clientId, name: null, protocol: 2, addr: `client-${clientId}`, laddr: 'sim', flags: new Set(), db: 0,
      state: new Map(), closeAfterReply() {}, closed: false,
    } as ClientContext;
  }

  start(): void {
    this.schedule();
  }

  /** From now on, count completed operations (liveness after healing). */
  markHeal(): void {
    this.healed = true;
    this.okSinceHeal = 0;
  }

  stop(): void {
    this.stopped = true;
  }

  get idle(): boolean {
    return !this.busy;
  }

  /** The node the current command went to died: the connection drops. */
  nodeCrashed(nodeId: number): void {
    if (this.current !== null && this.current.nodeId === nodeId && this.currentFinish !== null) this.currentFinish('crash');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.world.after(this.random.next() * this.options.thinkMsMax, () => this.issue());
  }

  private pickNode(): SimNodeProcess | null {
    const up = this.nodes.filter((n) => n.state === 'up');
    if (up.length === 0) return null;
    const home = this.nodes[this.home];
    if (home.state === 'up' && !this.random.chance(this.options.wanderChance)) return home;
    const node = this.random.pick(up);
    // A client that found its home down reconnects elsewhere and stays there.
    if (home.state !== 'up') this.home = this.nodes.indexOf(node);
    return node;
  }

  private pickCommand(): Command {
    const counter = this.random.chance(0.4);
    if (counter) {
      const key = this.random.pick(this.keys.counters);
      const r = this.random.next();
      return { name: r < 0.6 ? 'incr' : r < 0.95 ? 'get' : 'del', key, counter };
    }
    const key = this.random.pick(this.keys.registers);
    const r = this.random.next();
    if (r < 0.45) return { name: 'set', key, counter, value: `c${this.clientId}.${this.opSeq}` };
    return { name: r < 0.9 ? 'get' : 'del', key, counter };
  }

  /**
   * Makes this client a prober: it GETs every key through every node, in turn, until each
   * pair has been answered once ("any node answers any command", DESIGN.md).
   */
  probeAll(keys: readonly string[]): void {
    this.probes = [];
    for (const node of this.nodes) for (const key of keys) this.probes.push({ node, key });
  }

  /** Probes not yet answered (0 for a client that does not probe). */
  get probesLeft(): number {
    return this.probes.length;
  }

  private issue(): void {
    if (this.stopped) return;
    const probe = this.probes.length > 0 ? this.probes[0] : null;
    const node = probe !== null ? (probe.node.state === 'up' ? probe.node : null) : this.pickNode();
    if (node === null) {
      this.world.after(50, () => this.issue());
      return;
    }
    this.opSeq++;
    const command: Command = probe !== null
      ? { name: 'get', key: probe.key, counter: this.keys.counters.includes(probe.key) }
      : this.pickCommand();
    const label = `c${this.clientId}#${this.opSeq}@n${node.nodeId}`;
    const args = [Buffer.from(command.name.toUpperCase()), Buffer.from(command.key)];
    if (command.value !== undefined) args.push(Buffer.from(command.value));
    const invokeMs = this.world.nowMs;
    if (this.world.tracing) this.world.trace(`${label} invokes ${args.map((a) => a.toString()).join(' ')}`);
    const flight: InFlight = { nodeId: node.nodeId, incarnation: node.incarnation!.number, done: false };
    this.busy = true;
    this.current = flight;
    const finish = (outcome: ClientReply | 'timeout' | 'crash'): void => {
      if (flight.done) return;
      flight.done = true;
      this.current = null;
      this.currentFinish = null;
      this.busy = false;
      this.record(command, label, invokeMs, outcome);
      this.schedule();
    };
    this.currentFinish = finish;
    // DESIGN.md: a node cut off from its group's majority answers with an error within a
    // bounded time. The router's bound is its request timeout (plus a retry and a round trip).
    this.world.after(this.replyBoundMs, () => {
      if (!flight.done) this.world.fail(`bounded reply: ${label} ${command.name.toUpperCase()} ${command.key} got no reply within ${this.replyBoundMs.toFixed(0)}ms`);
    });
    this.world.after(this.options.timeoutMs, () => finish('timeout'));
    let result: Reply | Promise<Reply>;
    try {
      result = node.dispatcher!.handle(this.ctx, args);
    } catch (err) {
      this.world.fail(`dispatcher threw on ${label}: ${String(err)}`);
      return;
    }
    Promise.resolve(result).then(
      (reply) => {
        // A reply from an incarnation that has since died never reaches the client.
        if (node.incarnation?.number !== flight.incarnation || !node.incarnation.alive) return;
        finish(toClientReply(reply));
      },
      (err: unknown) => {
        if (node.incarnation?.number !== flight.incarnation || !node.incarnation.alive) return;
        finish({ kind: 'error', message: `ERR ${String(err)}` });
      },
    );
  }

  private record(command: Command, label: string, invokeMs: number, outcome: ClientReply | 'timeout' | 'crash'): void {
    const h = this.history;
    const completeMs = this.world.nowMs;
    const latency = completeMs - invokeMs;
    const text = typeof outcome === 'string' ? outcome : JSON.stringify(outcome);
    if (this.world.tracing) this.world.trace(`${label} completes: ${text}`);
    h.lines.push(`${label} ${command.name} ${command.key} ${command.value ?? ''} [${invokeMs.toFixed(3)}..${completeMs.toFixed(3)}] ${text}`);
    if (outcome !== 'crash') {
      h.stats.latencyMaxMs = Math.max(h.stats.latencyMaxMs, latency);
      if (latency > this.replyBoundMs) h.stats.late++;
    }
    if (outcome === 'timeout') h.stats.timeouts++;
    if (typeof outcome !== 'string' && outcome.kind === 'error') {
      h.stats.errors++;
      if (!isExpectedError(outcome.message)) {
        this.world.fail(`unexpected error reply to ${label} ${command.name.toUpperCase()} ${command.key}: ${outcome.message}`);
        return;
      }
    }
    const known = typeof outcome === 'string' || outcome.kind === 'error' ? null : outcome;
    const isRead = command.name === 'get';
    if (known === null) {
      if (isRead) {
        h.stats.readsLost++;
        return;
      }
      h.stats.indeterminate++;
      if (command.counter) {
        h.counters.push({ key: command.key, kind: command.name as 'incr' | 'del', value: null, invokeMs, completeMs: Infinity, label });
      } else {
        h.registers.push({ key: command.key, kind: 'write', value: command.name === 'set' ? command.value! : null, invokeMs, completeMs: Infinity, label });
      }
      return;
    }
    const bad = (): void => this.world.fail(`unexpected reply to ${label} ${command.name.toUpperCase()} ${command.key}: ${JSON.stringify(known)}`);
    if (this.healed) this.okSinceHeal++;
    const probe = this.probes[0];
    if (probe !== undefined && probe.key === command.key && label.endsWith(`@n${probe.node.nodeId}`)) this.probes.shift();
    if (isRead) h.stats.readsOk++;
    else h.stats.writesOk++;
    if (command.counter) {
      if (command.name === 'get') {
        if (known.kind !== 'bulk') return bad();
        const value = known.value === null ? 0 : Number(known.value);
        if (!Number.isInteger(value)) return bad();
        h.counters.push({ key: command.key, kind: 'read', value, invokeMs, completeMs, label });
      } else {
        if (known.kind !== 'integer') return bad();
        h.counters.push({ key: command.key, kind: command.name as 'incr' | 'del', value: known.value, invokeMs, completeMs, label });
      }
      return;
    }
    switch (command.name) {
      case 'set':
        if (known.kind !== 'simple' || known.value !== 'OK') return bad();
        h.registers.push({ key: command.key, kind: 'write', value: command.value!, invokeMs, completeMs, label });
        return;
      case 'del':
        if (known.kind !== 'integer') return bad();
        h.registers.push({ key: command.key, kind: 'write', value: null, invokeMs, completeMs, label });
        return;
      default:
        if (known.kind !== 'bulk') return bad();
        h.registers.push({ key: command.key, kind: 'read', value: known.value, invokeMs, completeMs, label });
    }
  }
}
