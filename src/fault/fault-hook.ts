/**
 * The test-only fault-injection hook (docs/fault-injection.md): one server command,
 * `RAFTIS.FAULT`, that exists only on a node started with RAFTIS_FAULT_INJECTION=1. Without
 * that variable the command is not registered at all, so a client gets Redis's "unknown
 * command" error. It lets a fault test partition links (through the transport's link filter),
 * jump the node's clock within the configured drift bound, and read a digest of a group's
 * applied state to compare replicas.
 *
 *   RAFTIS.FAULT DROP [from to ...]   drop Raft messages and RPCs on the links from -> to (replaces the rule set)
 *   RAFTIS.FAULT HEAL                 drop nothing
 *   RAFTIS.FAULT CLOCK-JUMP ms        jump this node's clock; |ms| <= leaseDriftTicks * tickMs
 *   RAFTIS.FAULT DIGEST group         [applied index, sha256 of the group's state image] on this node
 *   RAFTIS.FAULT STATUS               [rules, wall clock offset]
 */
import { createHash } from 'node:crypto';
import type { ClockControl } from '../env/real.js';
import type { ServerCommand } from '../commands/server.js';
import { lower, parseInt64 } from '../commands/spec.js';
import { array, bulk, integer, ok, type Reply } from '../resp/encoder.js';
import { errGeneric, errNotInteger, errSyntax, errUnknownSubcommand, errWrongArgs } from '../resp/replies.js';
import type { StateMachineStore } from '../storage/types.js';
import type { LinkFilter } from '../transport/transport.js';
import type { NodeId } from '../raft/types.js';

/** The environment variable that turns the hook on; any other value than "1" leaves it off. */
export const FAULT_INJECTION_ENV = 'RAFTIS_FAULT_INJECTION';

/** True when the process was started with fault injection on. */
export function faultInjectionEnabled(env: Record<string, string | undefined>): boolean {
  return env[FAULT_INJECTION_ENV] === '1';
}

export interface FaultHookDeps {
  clock: ClockControl;
  /** The largest clock jump allowed: the lease's drift margin (leaseDriftTicks * tickMs). */
  driftBoundMs: number;
  setLinkFilter(filter: LinkFilter | null): void;
  store: StateMachineStore;
  hostsGroup(groupId: number): boolean;
}

/** Builds the RAFTIS.FAULT command over a node's transport, clock and state machine. */
export function faultCommand(d: FaultHookDeps): ServerCommand {
  let dropped = new Set<string>();
  const link = (from: NodeId, to: NodeId): string => `${from}>${to}`;

  const drop = (args: Buffer[]): Reply => {
    if ((args.length - 2) % 2 !== 0) return errSyntax();
    const next = new Set<string>();
    for (let i = 2; i < args.length; i += 2) {
      const from = parseInt64(args[i]);
      const to = parseInt64(args[i + 1]);
      if (from === undefined || to === undefined) return errNotInteger();
      next.add(link(Number(from), Number(to)));
    }
    dropped = next;
    d.setLinkFilter(next.size === 0 ? null : (from, to) => !dropped.has(link(from, to)));
    return ok();
  };

  const digest = async (groupId: number): Promise<Reply> => {
    if (!d.hostsGroup(groupId)) return errGeneric(`group ${groupId} has no replica on this node`);
    const snapshot = d.store.createSnapshot(groupId);
    const hash = createHash('sha256');
    for await (const chunk of snapshot.chunks()) hash.update(chunk);
    return array([integer(snapshot.applied), bulk(hash.digest('hex'))]);
  };

  return (_ctx, args) => {
    switch (lower(args[1])) {
      case 'drop': return drop(args);
      case 'heal':
        if (args.length !== 2) return errWrongArgs('raftis.fault|heal');
        dropped = new Set();
        d.setLinkFilter(null);
        return ok();
      case 'clock-jump': {
        if (args.length !== 3) return errWrongArgs('raftis.fault|clock-jump');
        const ms = parseInt64(args[2]);
        if (ms === undefined) return errNotInteger();
        if (Math.abs(Number(ms)) > d.driftBoundMs) {
          return errGeneric(`clock jump of ${ms} ms exceeds the drift bound of ${d.driftBoundMs} ms`);
        }
        d.clock.jump(Number(ms));
        return ok();
      }
      case 'digest': {
        if (args.length !== 3) return errWrongArgs('raftis.fault|digest');
        const groupId = parseInt64(args[2]);
        if (groupId === undefined || groupId < 0n) return errNotInteger();
        return digest(Number(groupId));
      }
      case 'status':
        return array([array([...dropped].sort().map((l) => bulk(l))), integer(d.clock.wallOffsetMs())]);
      default: return errUnknownSubcommand('raftis.fault', args[1]);
    }
  };
}

/** COMMAND DOCS and arity of RAFTIS.FAULT (registered only when the hook is on). */
export const FAULT_DOCS = {
  'raftis.fault': {
    summary: 'Test-only fault injection (RAFTIS_FAULT_INJECTION=1): DROP links, HEAL, CLOCK-JUMP, DIGEST of a group, STATUS',
    since: '7.0.0', group: 'server', complexity: 'O(1), DIGEST O(N) where N is the number of keys in the group',
  },
} as const;
export const FAULT_SPECS = { 'raftis.fault': { arity: -2, flags: ['admin', 'noscript', 'loading', 'stale'] } } as const;
