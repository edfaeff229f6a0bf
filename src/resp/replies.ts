/**
 * The one catalog of error replies, byte-exact with Redis 7.0 (checked against redis-server 7.0.15).
 * Clients parse these strings (ioredis splits MOVED/ASK on spaces), so never build errors ad hoc.
 */
import { errorReply, type Reply } from './encoder.js';

/** Renders an argument as Redis's `%.*s` does: bytes up to the first NUL, at most `max` bytes. */
function cString(arg: Buffer | string, max: number): string {
  const buf = typeof arg === 'string' ? Buffer.from(arg) : arg;
  let end = buf.indexOf(0);
  if (end === -1) end = buf.length;
  return buf.subarray(0, Math.min(end, Math.max(0, max))).toString('latin1');
}

function err(message: string): Reply {
  return errorReply(message);
}

/** `-ERR <message>` for free-form ERR replies; prefer a named constructor below. */
export const errGeneric = (message: string): Reply => err(`ERR ${message}`);

/** `-ERR wrong number of arguments for 'get' command` (name as the client typed it, lowercased by Redis). */
export const errWrongArgs = (command: string): Reply =>
  err(`ERR wrong number of arguments for '${command.toLowerCase()}' command`);

/**
 * `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `: the name is capped at 128 bytes,
 * the args are appended while the list is under 128 bytes, each capped to what remains (processCommand).
 */
export function errUnknownCommand(args: ReadonlyArray<Buffer | string>): Reply {
  let list = '';
  for (let i = 1; i < args.length && list.length < 128; i++) {
    list += `'${cString(args[i]!, 128 - list.length)}' `;
  }
  return err(`ERR unknown command '${cString(args[0] ?? '', 128)}', with args beginning with: ${list}`);
}

/** `-ERR unknown subcommand 'foo'. Try CLIENT HELP.` */
export const errUnknownSubcommand = (command: string, sub: Buffer | string): Reply =>
  err(`ERR unknown subcommand '${cString(sub, 128)}'. Try ${command.toUpperCase()} HELP.`);

export const errSyntax = (): Reply => err('ERR syntax error');
export const errWrongType = (): Reply => err('WRONGTYPE Operation against a key holding the wrong kind of value');
export const errNotInteger = (): Reply => err('ERR value is not an integer or out of range');
export const errOverflow = (): Reply => err('ERR increment or decrement would overflow');
/** DECRBY with the most negative int64, which cannot be negated. */
export const errDecrementOverflow = (): Reply => err('ERR decrement would overflow');
export const errNotFloat = (): Reply => err('ERR value is not a valid float');
export const errIncrNanOrInf = (): Reply => err('ERR increment would produce NaN or Infinity');
export const errDbIndexOutOfRange = (): Reply => err('ERR DB index is out of range');
export const errInvalidExpireTime = (command: string): Reply =>
  err(`ERR invalid expire time in '${command.toLowerCase()}' command`);
export const errNoSuchKey = (): Reply => err('ERR no such key');
export const errMaxClients = (): Reply => err('ERR max number of clients reached');
export const errNoAuth = (): Reply => err('NOAUTH Authentication required.');
export const errWrongPass = (): Reply => err('WRONGPASS invalid username-password pair or user is disabled.');
export const errAuthNotConfigured = (): Reply =>
  err('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
export const errNoProto = (): Reply => err('NOPROTO unsupported protocol version');
/** `message` is the text after `Protocol error: ` as produced by the decoder. */
export const errProtocol = (message: string): Reply => err(`ERR Protocol error: ${message}`);

// Transactions.
export const errExecAbort = (): Reply => err('EXECABORT Transaction discarded because of previous errors.');
/** EXEC itself refused inside MULTI (e.g. its arity): the transaction is discarded. */
export const errExecAbortBecause = (reason: string): Reply => err(`EXECABORT Transaction discarded because of: ${reason}`);
export const errExecWithoutMulti = (): Reply => err('ERR EXEC without MULTI');
export const errDiscardWithoutMulti = (): Reply => err('ERR DISCARD without MULTI');
export const errMultiNested = (): Reply => err('ERR MULTI calls can not be nested');
export const errWatchInMulti = (): Reply => err('ERR WATCH inside MULTI is not allowed');

// Cluster (Redis clusterRedirectClient; see docs/reference/redis-cluster-protocol.md).
/** `-MOVED <slot> <host>:<port>`; host may be empty (`:6380`). */
export const errMoved = (slot: number, host: string, port: number): Reply => err(`MOVED ${slot} ${host}:${port}`);
export const errAsk = (slot: number, host: string, port: number): Reply => err(`ASK ${slot} ${host}:${port}`);
export const errCrossSlot = (): Reply => err("CROSSSLOT Keys in request don't hash to the same slot");
export const errTryAgain = (): Reply => err('TRYAGAIN Multiple keys request during rehashing of slot');
export const errClusterDown = (): Reply => err('CLUSTERDOWN The cluster is down');
export const errClusterDownUnbound = (): Reply => err('CLUSTERDOWN Hash slot not served');
/** Clients look only at the first token, so a raft-specific reason after CLUSTERDOWN is safe. */
export const errClusterDownReason = (reason: string): Reply => err(`CLUSTERDOWN ${reason}`);

/** An internal failure of a handler, surfaced as `-ERR <message>`. */
export const errInternal = (message: string): Reply => err(`ERR ${message}`);

// Strings and keys (t_string.c, expire.c, db.c).
export const errOffsetOutOfRange = (): Reply => err('ERR offset is out of range');
export const errStringTooLong = (): Reply => err('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
export const errExpireNxXx = (): Reply => err('ERR NX and XX, GT or LT options at the same time are not compatible');
export const errExpireGtLt = (): Reply => err('ERR GT and LT options at the same time are not compatible');
export const errHashNotInteger = (): Reply => err('ERR hash value is not an integer');
export const errHashNotFloat = (): Reply => err('ERR hash value is not a float');
export const errInvalidCursor = (): Reply => err('ERR invalid cursor');
export const errConfigSetUnknown = (name: Buffer | string): Reply =>
  err(`ERR Unknown option or number of arguments for CONFIG SET - '${cString(name, 128)}'`);
export const errConfigSetFailed = (name: string, why: string): Reply =>
  err(`ERR CONFIG SET failed (possibly related to argument '${name}') - ${why}`);
export const errNoSuchClient = (): Reply => err('ERR No such client');
export const errUnsupportedOption = (opt: Buffer | string): Reply => err(`ERR Unsupported option ${cString(opt, 128)}`);
export const errNoAuthHello = (): Reply =>
  err('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
export const errNanOrInfinity = (): Reply => err('ERR value is NaN or Infinity');
/** Redis's protected-mode refusal (networking.c), byte for byte, typo included. */
export const errDenied = (): Reply => err('DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command \'CONFIG SET protected-mode no\' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to \'no\', and then restarting the server. 3) If you started the server manually just for testing, restart it with the \'--protected-mode no\' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.');
export const errOom = (): Reply => err("OOM command not allowed when used memory > 'maxmemory'.");
