/**
 * The contract between the multi-raft host and whatever carries messages
 * between nodes: `PeerTransport` over TCP in production, an in-memory network
 * in the simulator.
 */
import type { Message, NodeId } from '../raft/types.js';

export type TransportErrorCode =
  /** No response within the request's timeout. */
  | 'timeout'
  /** The peer could not be reached (connection refused, in reconnect back-off). */
  | 'unreachable'
  /** The connection carrying the request broke before the response came. */
  | 'connectionLost'
  /** The transport (or the peer entry) was closed. */
  | 'closed'
  /** `to` was never added with `addPeer`. */
  | 'unknownPeer'
  /** The payload exceeds the frame limit. */
  | 'tooLarge'
  /** The peer's handler failed; the message is the peer's error text. */
  | 'remote';

/** The typed failure of `request`. */
export class TransportError extends Error {
  readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
  }
}

export type MessagesHandler = (from: NodeId, messages: Message[]) => void;
export type RequestHandler = (from: NodeId, payload: Uint8Array) => Promise<Uint8Array>;
export type UnreachableHandler = (nodeId: NodeId) => void;
/** Returns false to drop the Raft messages on the link from -> to (fault tests only). */
export type LinkFilter = (from: NodeId, to: NodeId) => boolean;

export interface Transport {
  /** Queues Raft messages for `to`; everything queued in one turn leaves as one batch. */
  send(to: NodeId, messages: Message[]): void;
  onMessages(handler: MessagesHandler): void;
  onUnreachable(handler: UnreachableHandler): void;
  /** Sends an RPC (never dropped for back-pressure); rejects with TransportError. */
  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  onRequest(handler: RequestHandler): void;
  addPeer(nodeId: NodeId, host: string, port: number): void;
  removePeer(nodeId: NodeId): void;
  setLinkFilter(filter: LinkFilter | null): void;
  close(): Promise<void>;
}
