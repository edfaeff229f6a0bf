/** Counters of one PeerTransport, shared by its links and inbound connections. */
export interface PeerTransportStats {
  raftFramesSent: number;
  raftMessagesSent: number;
  /** Dropped on send: unreachable peer, unknown peer, back-pressure, link filter, oversize. */
  raftMessagesDropped: number;
  raftFramesReceived: number;
  raftMessagesReceived: number;
  requestsSent: number;
  requestsServed: number;
  /** Inbound or outbound handshakes refused (wrong cluster, wrong node). */
  handshakesRefused: number;
  /** Connections closed because the peer sent bytes we could not accept. */
  protocolErrors: number;
}

export function newStats(): PeerTransportStats {
  return {
    raftFramesSent: 0,
    raftMessagesSent: 0,
    raftMessagesDropped: 0,
    raftFramesReceived: 0,
    raftMessagesReceived: 0,
    requestsSent: 0,
    requestsServed: 0,
    handshakesRefused: 0,
    protocolErrors: 0,
  };
}
