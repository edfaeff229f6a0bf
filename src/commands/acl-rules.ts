/**
 * ACL users as Redis 7.0 has them (acl.c): flags, password hashes, allowed commands (a bit per
 * command and subcommand of Redis's whole command table, plus first-argument rules), key
 * patterns with read/write flags, and channel patterns. Parses ACL SETUSER rules with Redis's
 * error texts, describes users in Redis's words (ACL LIST / GETUSER, built the way
 * ACLDescribeSelectorCommandRules builds them so the texts match), and answers "may this user
 * run this command on these keys". Pure and deterministic: apply on every replica of group 0
 * runs it.
 */
import { createHash } from 'node:crypto';
import { ACL_TABLE, type AclKeySpec } from './acl-table.js';
import { globMatch } from './glob.js';

/** Redis's ACL categories in acl.c order (ACL CAT lists them so). */
export const ACL_CATEGORIES = ['keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap',
  'hyperloglog', 'geo', 'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection',
  'transaction', 'scripting'];

interface AclCommand {
  readonly id: number;
  readonly name: string;
  readonly categories: ReadonlySet<string>;
  readonly keySpecs: readonly AclKeySpec[];
  /** Ids of the subcommands (containers only). */
  readonly subs: number[];
  /** Counted when choosing category rules (false for raftis-only commands, so texts match Redis). */
  readonly counted: boolean;
}

const COMMANDS: AclCommand[] = [];
const BY_NAME = new Map<string, AclCommand>();

function addCommand(name: string, categories: string[], keySpecs: AclKeySpec[], counted: boolean): AclCommand {
  const cmd: AclCommand = { id: COMMANDS.length, name, categories: new Set(categories), keySpecs, subs: [], counted };
  COMMANDS.push(cmd);
  BY_NAME.set(name, cmd);
  const bar = name.indexOf('|');
  if (bar > 0) BY_NAME.get(name.slice(0, bar))?.subs.push(cmd.id);
  return cmd;
}
// Containers sort before their subcommands (`acl` < `acl|cat`), so parents exist first.
for (const [name, cats, specs] of ACL_TABLE) addCommand(name, cats, specs, true);

/**
 * Makes a raftis-only command (not in Redis's table) known to ACL rules, with the categories its
 * registration derived. Called while the command registry is built, before any user is parsed.
 */
export function addAclCommand(name: string, categories: readonly string[]): void {
  if (BY_NAME.has(name)) return;
  addCommand(name, [...categories], [], false);
}

/** The ACL entry of a command by full name (`get`, `config|get`). */
export function aclCommand(name: string): AclCommand | undefined {
  return BY_NAME.get(name);
}

/** Names of the known commands in a category (ACL CAT <category>), or undefined for an unknown category. */
export function commandsInCategory(category: string): string[] | undefined {
  if (!ACL_CATEGORIES.includes(category)) return undefined;
  return COMMANDS.filter((c) => c.categories.has(category)).map((c) => c.name);
}

/** SHA-256 hex of a password, as Redis stores it. */
export function hashPassword(password: string | Buffer): string {
  return createHash('sha256').update(password).digest('hex');
}

const READ = 1;
const WRITE = 2;

/** The stored (JSON) form of one user. */
export interface AclUserData {
  name: string;
  on: boolean;
  nopass: boolean;
  /** '' (neither flag), 'sanitize-payload' or 'skip-sanitize-payload'. */
  sanitize: string;
  passwords: string[];
  allCommands: boolean;
  allowed: string[];
  firstArgs: Record<string, string[]>;
  allKeys: boolean;
  keys: Array<[pattern: string, flags: number]>;
  allChannels: boolean;
  channels: string[];
}

const ERR_UNKNOWN = 'Unknown command or category name in ACL';
const ERR_SYNTAX = 'Syntax error';
const ERR_HASH = 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters';
const ERR_NO_PASS = 'The password you are trying to remove from the user does not exist';
const ERR_ALLKEYS = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const ERR_ALLCHANNELS = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";

/** Why a command was refused: the command itself or one of its keys. */
export type AclDenial = 'cmd' | 'key' | null;

/** One ACL user. */
export class AclUser {
  on = false;
  nopass = false;
  sanitize = '';
  passwords: string[] = [];
  allCommands = false;
  allowed = new Set<number>();
  firstArgs = new Map<number, string[]>();
  allKeys = false;
  keys: Array<[string, number]> = [];
  allChannels = false;
  channels: string[] = [];

  constructor(readonly name: string) {}

  /** The built-in default user: `on nopass ~* &* +@all`. */
  static defaultUser(): AclUser {
    const u = new AclUser('default');
    u.on = true;
    u.nopass = true;
    u.allKeys = true;
    u.allChannels = true;
    u.setRule('+@all');
    return u;
  }

  clone(): AclUser {
    return AclUser.fromData(this.toData());
  }

  toData(): AclUserData {
    return {
      name: this.name, on: this.on, nopass: this.nopass, sanitize: this.sanitize, passwords: [...this.passwords],
      allCommands: this.allCommands, allowed: [...this.allowed].sort((a, b) => a - b).map((id) => COMMANDS[id].name),
      firstArgs: Object.fromEntries([...this.firstArgs].map(([id, args]) => [COMMANDS[id].name, [...args]])),
      allKeys: this.allKeys, keys: this.keys.map(([p, f]) => [p, f]), allChannels: this.allChannels, channels: [...this.channels],
    };
  }

  static fromData(d: AclUserData): AclUser {
    const u = new AclUser(d.name);
    u.on = d.on;
    u.nopass = d.nopass;
    u.sanitize = d.sanitize;
    u.passwords = [...d.passwords];
    u.allCommands = d.allCommands;
    // Raftis-only commands are not stored by name in older states: +@all covers them anyway.
    if (d.allCommands) for (const c of COMMANDS) u.allowed.add(c.id);
    for (const name of d.allowed) {
      const c = BY_NAME.get(name);
      if (c) u.allowed.add(c.id);
    }
    for (const [name, args] of Object.entries(d.firstArgs)) {
      const c = BY_NAME.get(name);
      if (c) u.firstArgs.set(c.id, [...args]);
    }
    u.allKeys = d.allKeys;
    u.keys = d.keys.map(([p, f]) => [p, f]);
    u.allChannels = d.allChannels;
    u.channels = [...d.channels];
    return u;
  }

  /** Applies one ACL SETUSER rule; returns Redis's reason when it is refused. */
  setRule(rule: string): string | null {
    const op = rule;
    const lower = op.toLowerCase();
    switch (lower) {
      case 'on': this.on = true; return null;
      case 'off': this.on = false; return null;
      case 'skip-sanitize-payload': this.sanitize = 'skip-sanitize-payload'; return null;
      case 'sanitize-payload': this.sanitize = 'sanitize-payload'; return null;
      case 'nopass': this.nopass = true; this.passwords = []; return null;
      case 'resetpass': this.nopass = false; this.passwords = []; return null;
      case 'allkeys': case '~*': this.allKeys = true; this.keys = []; return null;
      case 'resetkeys': this.allKeys = false; this.keys = []; return null;
      case 'allchannels': case '&*': this.allChannels = true; this.channels = []; return null;
      case 'resetchannels': this.allChannels = false; this.channels = []; return null;
      case 'allcommands': case '+@all':
        this.allCommands = true;
        for (const c of COMMANDS) this.allowed.add(c.id);
        this.firstArgs.clear();
        return null;
      case 'nocommands': case '-@all':
        this.allCommands = false;
        this.allowed.clear();
        this.firstArgs.clear();
        return null;
      case 'reset':
        for (const r of ['resetpass', 'resetkeys', 'resetchannels', 'off', '-@all']) this.setRule(r);
        this.sanitize = 'sanitize-payload';
        return null;
      default:
        break;
    }
    const c0 = op[0];
    if (c0 === '>' || c0 === '<') {
      const hash = hashPassword(op.slice(1));
      return c0 === '>' ? this.addHash(hash) : this.removeHash(hash);
    }
    if (c0 === '#' || c0 === '!') {
      const hash = op.slice(1);
      if (!/^[0-9a-f]{64}$/.test(hash)) return ERR_HASH;
      return c0 === '#' ? this.addHash(hash) : this.removeHash(hash);
    }
    if (c0 === '~' || c0 === '%') return this.addKeyPattern(op);
    if (c0 === '&') {
      if (this.allChannels) return ERR_ALLCHANNELS;
      const pattern = op.slice(1);
      if (!this.channels.includes(pattern)) this.channels.push(pattern);
      return null;
    }
    if (c0 === '+' && op[1] === '@' || c0 === '-' && op[1] === '@') {
      const category = lower.slice(2);
      if (!ACL_CATEGORIES.includes(category)) return ERR_UNKNOWN;
      for (const c of COMMANDS) if (c.categories.has(category)) this.changePerm(c, c0 === '+');
      return null;
    }
    if (c0 === '+' || c0 === '-') return this.commandRule(lower.slice(1), c0 === '+');
    return ERR_SYNTAX;
  }

  private addHash(hash: string): string | null {
    this.nopass = false;
    if (!this.passwords.includes(hash)) this.passwords.push(hash);
    return null;
  }

  private removeHash(hash: string): string | null {
    const i = this.passwords.indexOf(hash);
    if (i === -1) return ERR_NO_PASS;
    this.passwords.splice(i, 1);
    this.nopass = false;
    return null;
  }

  private addKeyPattern(op: string): string | null {
    let flags = 0;
    let pattern: string;
    if (op[0] === '%') {
      const tilde = op.indexOf('~');
      if (tilde < 2) return ERR_SYNTAX;
      for (const ch of op.slice(1, tilde).toUpperCase()) {
        if (ch === 'R') flags |= READ;
        else if (ch === 'W') flags |= WRITE;
        else return ERR_SYNTAX;
      }
      pattern = op.slice(tilde + 1);
    } else {
      flags = READ | WRITE;
      pattern = op.slice(1);
    }
    if (this.allKeys) return ERR_ALLKEYS;
    if (pattern === '*' && flags === (READ | WRITE)) {
      this.allKeys = true;
      this.keys = [];
      return null;
    }
    const existing = this.keys.find(([p]) => p === pattern);
    if (existing) existing[1] |= flags;
    else this.keys.push([pattern, flags]);
    return null;
  }

  private commandRule(name: string, allow: boolean): string | null {
    const bar = name.indexOf('|');
    if (bar === -1) {
      const c = BY_NAME.get(name);
      if (!c || name === '') return ERR_UNKNOWN;
      this.changePerm(c, allow);
      return null;
    }
    const sub = BY_NAME.get(name);
    if (sub) {
      this.changePerm(sub, allow);
      return null;
    }
    const parent = BY_NAME.get(name.slice(0, bar));
    const arg = name.slice(bar + 1);
    // A first-argument rule (`+select|0`) is only for commands without subcommands, and only `+`.
    if (!parent || parent.subs.length > 0 || !allow || arg === '' || arg.includes('|')) return ERR_UNKNOWN;
    if (this.allowed.has(parent.id)) return null;
    const list = this.firstArgs.get(parent.id) ?? [];
    if (!list.includes(arg)) list.push(arg);
    this.firstArgs.set(parent.id, list);
    return null;
  }

  /** ACLChangeSelectorPerm: one command and all its subcommands; first-argument rules of them go. */
  private changePerm(c: AclCommand, allow: boolean): void {
    if (allow) this.allowed.add(c.id);
    else this.allowed.delete(c.id);
    this.firstArgs.delete(c.id);
    for (const s of c.subs) {
      if (allow) this.allowed.add(s);
      else this.allowed.delete(s);
      this.firstArgs.delete(s);
    }
  }

  /** ACL GETUSER's flags, in Redis's order. */
  flagList(): string[] {
    const flags = [this.on ? 'on' : 'off'];
    if (this.nopass) flags.push('nopass');
    if (this.sanitize !== '') flags.push(this.sanitize);
    return flags;
  }

  /** The key patterns as ACL GETUSER and LIST show them. */
  keysText(): string {
    if (this.allKeys) return '~*';
    return this.keys.map(([p, f]) => `${f === READ ? '%R' : f === WRITE ? '%W' : ''}~${p}`).join(' ');
  }

  /** The channel patterns as ACL GETUSER shows them. */
  channelsText(): string {
    if (this.allChannels) return '&*';
    return this.channels.map((p) => `&${p}`).join(' ');
  }

  /** The command rules, rebuilt from the permission bits as Redis 7.0 does. */
  commandsText(): string {
    const rules: string[] = [];
    const additive = !this.allCommands;
    const fake = new AclUser('');
    fake.setRule(additive ? '-@all' : '+@all');
    rules.push(additive ? '-@all' : '+@all');
    const temp = new Set(this.allowed);
    for (const category of ACL_CATEGORIES) {
      let on = 0;
      let off = 0;
      for (const c of COMMANDS) {
        if (!c.counted || !c.categories.has(category)) continue;
        if (temp.has(c.id)) on++;
        else off++;
      }
      if ((additive && on > off) || (!additive && off > on)) {
        fake.setRule(`${additive ? '+' : '-'}@${category}`);
        // The inverse on the temp copy, so later categories count only what is left to explain.
        for (const c of COMMANDS) {
          if (!c.categories.has(category)) continue;
          for (const id of [c.id, ...c.subs]) {
            if (additive) temp.delete(id);
            else temp.add(id);
          }
        }
        rules.push(`${additive ? '+' : '-'}@${category}`);
      }
    }
    for (const c of COMMANDS) {
      if (c.name.includes('|')) continue;
      for (const x of [c, ...c.subs.map((id) => COMMANDS[id])]) {
        const userBit = this.allowed.has(x.id);
        if (userBit !== fake.allowed.has(x.id)) {
          rules.push(`${userBit ? '+' : '-'}${x.name}`);
          fake.changePerm(x, userBit);
        }
      }
      const first = this.firstArgs.get(c.id);
      if (!this.allowed.has(c.id) && first) for (const a of first) rules.push(`+${c.name}|${a}`);
    }
    return rules.join(' ');
  }

  /** ACL LIST's line for this user. */
  describe(): string {
    const parts = [`user ${this.name}`, ...this.flagList(), ...this.passwords.map((h) => `#${h}`)];
    const keys = this.keysText();
    if (keys !== '') parts.push(keys);
    parts.push(this.allChannels ? '&*' : this.channels.length === 0 ? 'resetchannels' : this.channelsText());
    parts.push(this.commandsText());
    return parts.join(' ');
  }

  /** True when `password` opens this user (an enabled user with nopass or a matching hash). */
  checkPassword(password: Buffer | string): boolean {
    if (!this.on) return false;
    if (this.nopass) return true;
    return this.passwords.includes(hashPassword(password));
  }

  /**
   * May this user run the command `fullName` (`get`, `config|get`) with these arguments? Checks
   * the command bit (or a first-argument rule), then every key against the key patterns with the
   * read/write needs of its key spec.
   */
  check(fullName: string, args: readonly Buffer[], keyPositionsOf: readonly number[] | (() => readonly number[])): AclDenial {
    const c = BY_NAME.get(fullName);
    if (c) {
      if (!this.allowed.has(c.id)) {
        const first = this.firstArgs.get(c.id);
        if (!first || args.length < 2 || !first.includes(args[1].toString('latin1').toLowerCase())) return 'cmd';
      }
    } else if (!this.allCommands) {
      return 'cmd';
    }
    if (this.allKeys) return null;
    const keyPositions = typeof keyPositionsOf === 'function' ? keyPositionsOf() : keyPositionsOf;
    if (keyPositions.length === 0) return null;
    let needs = keyNeeds(c?.keySpecs ?? [], args.length, keyPositions);
    // SET's key spec has variable flags: it reads the old value only with GET (setGetKeys).
    if (fullName === 'set' && !args.slice(3).some((a) => a.toString('latin1').toLowerCase() === 'get')) needs = needs.map(() => WRITE);
    for (let i = 0; i < keyPositions.length; i++) {
      const key = args[keyPositions[i]];
      const need = needs[i];
      if (!this.keys.some(([p, f]) => (f & need) === need && globMatch(patternBytes(p), key, false))) return 'key';
    }
    return null;
  }
}

const patternCache = new Map<string, Buffer>();

/** A key pattern's bytes, kept so that checks do not convert it per command. */
function patternBytes(p: string): Buffer {
  let b = patternCache.get(p);
  if (!b) {
    if (patternCache.size > 10000) patternCache.clear();
    patternCache.set(p, (b = Buffer.from(p, 'latin1')));
  }
  return b;
}

/**
 * What ACL needs of each key position: from the key spec that covers the position when all the
 * command's specs are index/range ones (as Redis checks each spec), else the union of the specs.
 */
function keyNeeds(specs: readonly AclKeySpec[], argc: number, positions: readonly number[]): number[] {
  const union = specs.reduce((n, s) => n | s[0], 0) || READ | WRITE;
  const exact = specs.length > 0 && specs.every((s) => s.length === 5);
  return positions.map((pos) => {
    if (!exact) return union;
    let need = 0;
    for (const [n, index, lastkey, keystep] of specs) {
      const last = lastkey! >= 0 ? index! + lastkey! : argc + lastkey!;
      if (pos >= index! && pos <= last && (pos - index!) % keystep! === 0) need |= n;
    }
    return need === 0 ? union : need;
  });
}

/** All users of the cluster, as stored in group 0. */
export interface AclStateData {
  version: number;
  users: AclUserData[];
}

/** The users in force: `default` always exists. */
export class AclState {
  constructor(readonly version: number, readonly users: Map<string, AclUser>) {}

  static initial(): AclState {
    return new AclState(0, new Map([['default', AclUser.defaultUser()]]));
  }

  static fromData(d: AclStateData): AclState {
    const users = new Map(d.users.map((u) => [u.name, AclUser.fromData(u)] as const));
    if (!users.has('default')) users.set('default', AclUser.defaultUser());
    return new AclState(d.version, users);
  }

  toData(): AclStateData {
    return { version: this.version, users: this.sortedUsers().map((u) => u.toData()) };
  }

  /** Users sorted by name, as ACL LIST and USERS list them. */
  sortedUsers(): AclUser[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
