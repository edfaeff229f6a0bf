/**
 * ACL users of the cluster: the ACL command (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT,
 * LOG), authentication against users, and the per-command permission check. The users live in
 * group 0 under one internal key, changed only by the internal op `raftis.acl` (applied on every
 * replica of group 0); every node keeps the state in force in an AclService, which adopts newer
 * versions as they are pushed to it (by the node that ran the change, before it replies) or read
 * from group 0 (docs/security.md).
 */
import { array, bulk, integer, map, nullBulk, ok, errorReply, type Reply } from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import { errGeneric, errUnknownSubcommand, errWrongArgs } from '../resp/replies.js';
import type { KeyedCommand } from './spec.js';
import type { KeyspaceReader, WriteContext } from './keyspace.js';
import { ValueType } from '../storage/types.js';
import { ACL_CATEGORIES, AclState, AclUser, commandsInCategory, hashPassword, type AclStateData } from './acl-rules.js';
import { asReply } from './reply-parse.js';

export const ACL_OP = 'raftis.acl';
export const ACL_READ_OP = 'raftis.aclget';
export const ACL_KEY = Buffer.from('\u0000raftis:acl', 'latin1');

/** The ACL state stored in group 0, or undefined before the first change. */
export function readAclState(ks: KeyspaceReader): AclStateData | undefined {
  const v = ks.getRaw(ACL_KEY);
  if (!v) return undefined;
  return JSON.parse(Buffer.from(v.value).toString('utf8')) as AclStateData;
}

function stateOf(ks: KeyspaceReader): AclState {
  const d = readAclState(ks);
  return d ? AclState.fromData(d) : AclState.initial();
}

/**
 * `raftis.acl setuser <name> <rule>...` / `raftis.acl deluser <name>...`: applied on every
 * replica of group 0. Replies [client reply, new state JSON], or an error (nothing changed).
 * Deterministic: it reads only the stored state and its arguments.
 */
export const aclOpCommand: KeyedCommand = {
  kind: 'write',
  name: ACL_OP,
  apply(ctx: WriteContext, args: Buffer[]): Reply {
    const sub = args[1]?.toString('latin1').toLowerCase();
    const state = stateOf(ctx.ks);
    const users = new Map(state.users);
    let reply: Reply;
    if (sub === 'setuser') {
      const name = args[2].toString();
      const user = users.get(name)?.clone() ?? new AclUser(name);
      for (const rule of args.slice(3)) {
        const why = user.setRule(rule.toString());
        if (why !== null) return errorReply(`ERR Error in ACL SETUSER modifier '${rule.toString()}': ${why}`);
      }
      users.set(name, user);
      reply = ok();
    } else if (sub === 'deluser') {
      let deleted = 0;
      for (const a of args.slice(2)) {
        const name = a.toString();
        if (name === 'default') return errGeneric("The 'default' user cannot be removed");
        if (users.delete(name)) deleted++;
      }
      reply = integer(deleted);
      if (deleted === 0) return array([reply, nullBulk()]);
    } else {
      return errGeneric('unknown ACL op');
    }
    const json = Buffer.from(JSON.stringify(new AclState(state.version + 1, users).toData()));
    ctx.ks.put(ACL_KEY, { type: ValueType.String, value: json, expireAtMs: 0, revision: ctx.revision });
    return array([reply, bulk(json)]);
  },
};

/** `raftis.aclget`: the stored state JSON (null before the first change), read linearizably from group 0. */
export const aclReadCommand: KeyedCommand = {
  kind: 'read',
  name: ACL_READ_OP,
  read(ctx): Reply {
    const v = ctx.ks.getRaw(ACL_KEY);
    return v ? bulk(Buffer.from(v.value)) : nullBulk();
  },
};

/** ACL counters for INFO stats (Redis 7.2's names). */
export interface AclStats {
  deniedAuth: number;
  deniedCmd: number;
  deniedKey: number;
  deniedChannel: number;
}

export interface AclServiceOptions {
  /** This node's requirepass (CONFIG SET requirepass): a password of the default user. */
  requirepass: () => string;
  /** Proposes a `raftis.acl` op to group 0 and returns its reply. */
  propose: (args: Buffer[]) => Promise<Reply>;
  /** Hands a new state to every other node; resolves when each reachable one has it. */
  broadcast: (json: Buffer) => Promise<void>;
  /** Connected clients, to disconnect those of deleted users. */
  clients: () => ClientContext[];
}

/** The ACL state in force on this node; see the file comment. */
export class AclService {
  /** Create the service after the command registry, so that `+@all` of the default user covers every command. */
  state = AclState.initial();
  readonly stats: AclStats = { deniedAuth: 0, deniedCmd: 0, deniedKey: 0, deniedChannel: 0 };

  constructor(private readonly opts: AclServiceOptions) {}

  /** Adopts a state if it is newer than the one in force; true if it was. */
  adopt(data: AclStateData | Buffer | Uint8Array): boolean {
    let d: AclStateData;
    try {
      d = data instanceof Uint8Array ? JSON.parse(Buffer.from(data).toString('utf8')) as AclStateData : data;
    } catch {
      return false;
    }
    if (typeof d.version !== 'number' || d.version <= this.state.version) return false;
    this.state = AclState.fromData(d);
    // As Redis: clients authenticated as a user that no longer exists are disconnected.
    for (const c of this.opts.clients()) {
      const name = c.state.get('user');
      if (typeof name === 'string' && !this.state.users.has(name)) c.closeAfterReply();
    }
    return true;
  }

  /** Whether a new connection starts authenticated (as the default user). */
  defaultNeedsNoAuth(): boolean {
    const d = this.state.users.get('default')!;
    return this.opts.requirepass() === '' && d.on && d.nopass;
  }

  /** Checks a user name and password (AUTH, HELLO AUTH); counts failures. */
  authenticate(name: string, password: Buffer): boolean {
    const user = this.state.users.get(name);
    let okay = false;
    if (user && name === 'default' && this.opts.requirepass() !== '') {
      okay = user.on && (password.toString() === this.opts.requirepass() || user.passwords.includes(hashPassword(password)));
    } else if (user) {
      okay = user.checkPassword(password);
    }
    if (!okay) this.stats.deniedAuth++;
    return okay;
  }

  /** The user a connection runs as. */
  userOf(ctx: ClientContext): AclUser | undefined {
    const name = ctx.state.get('user');
    return this.state.users.get(typeof name === 'string' ? name : 'default');
  }

  /** The NOPERM reply for a command this connection may not run, or null. */
  check(ctx: ClientContext, fullName: string, args: readonly Buffer[], keyPositions: () => readonly number[]): Reply | null {
    const user = this.userOf(ctx);
    const denial = user ? user.check(fullName, args, keyPositions) : 'cmd';
    if (denial === null) return null;
    if (denial === 'key') {
      this.stats.deniedKey++;
      return errorReply('NOPERM this user has no permissions to access one of the keys used as arguments');
    }
    this.stats.deniedCmd++;
    return errorReply(`NOPERM this user has no permissions to run the '${fullName}' command`);
  }

  /** The ACL command. */
  command = async (ctx: ClientContext, args: Buffer[]): Promise<Reply> => {
    const sub = args[1].toString('latin1').toLowerCase();
    const state = this.state;
    switch (sub) {
      case 'whoami':
        if (args.length !== 2) return errWrongArgs('acl|whoami');
        return bulk(typeof ctx.state.get('user') === 'string' ? ctx.state.get('user') as string : 'default');
      case 'users':
        if (args.length !== 2) return errWrongArgs('acl|users');
        return array(state.sortedUsers().map((u) => bulk(u.name)));
      case 'list':
        if (args.length !== 2) return errWrongArgs('acl|list');
        return array(state.sortedUsers().map((u) => bulk(u.describe())));
      case 'getuser': {
        if (args.length !== 3) return errWrongArgs('acl|getuser');
        const u = state.users.get(args[2].toString());
        if (!u) return nullBulk();
        return map([
          [bulk('flags'), array(u.flagList().map((f) => bulk(f)))],
          [bulk('passwords'), array(u.passwords.map((h) => bulk(h)))],
          [bulk('commands'), bulk(u.commandsText())],
          [bulk('keys'), bulk(u.keysText())],
          [bulk('channels'), bulk(u.channelsText())],
          [bulk('selectors'), array([])],
        ]);
      }
      case 'cat': {
        if (args.length > 3) return errWrongArgs('acl|cat');
        if (args.length === 2) return array(ACL_CATEGORIES.map((c) => bulk(c)));
        const names = commandsInCategory(args[2].toString().toLowerCase());
        if (!names) return errGeneric(`Unknown category '${args[2].toString()}'`);
        return array(names.map((n) => bulk(n)));
      }
      case 'log':
        // Denials are counted in INFO stats; raftis keeps no ACL LOG entries.
        if (args.length > 3) return errWrongArgs('acl|log');
        return args.length === 3 && args[2].toString().toLowerCase() === 'reset' ? ok() : array([]);
      case 'setuser':
      case 'deluser': {
        if (args.length < 3) return errWrongArgs(`acl|${sub}`);
        const raw = asReply(await this.opts.propose([Buffer.from(ACL_OP), Buffer.from(sub), ...args.slice(2)]));
        if (raw.kind !== 'array' || raw.items === null || raw.items.length !== 2) return raw;
        const [reply, json] = raw.items;
        if (json.kind === 'bulk' && json.value !== null) {
          const bytes = Buffer.from(json.value);
          this.adopt(bytes);
          // Every reachable node has the new rules before the client hears OK.
          await this.opts.broadcast(bytes);
        }
        return reply;
      }
      default:
        return errUnknownSubcommand('acl', args[1]);
    }
  };
}
