/**
 * Socket reads without Node's per-read allocation (docs/decisions.md, "Socket reads into one
 * shared buffer").
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** Every plain socket that opts in reads into this one buffer; each read is copied out at once. */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * Makes `socket` read into SHARED_READ_BUFFER and hand each read to `onChunk` as a buffer of its
 * own (docs/decisions.md, "Socket reads into one shared buffer"). Node's default read path
 * allocates a 64 KiB buffer per read, shrinks it, wraps it in a new ArrayBuffer and pushes it
 * through a Readable stream; at GET -P1 that cost a sixth of the node's CPU (malloc, GC). Node
 * offers this mode (`onread`) to client sockets only, so it is switched on through the socket's
 * own fields; where they are missing (another Node version, a TLS socket), it returns false and
 * the caller uses the socket's 'data' events. Reading starts at once (a socket accepted with
 * pauseOnConnect included); pause, resume and 'end' work as before.
 *
 * Used for client connections (RESP) and peer links alike; both decoders keep views into the
 * chunks they are given, which is why each read is copied rather than parsed in place.
 */
export function readThroughSharedBuffer(socket: Socket, onChunk: (chunk: Buffer) => void): boolean {
  if (!(socket instanceof Socket) || socket instanceof TLSSocket) return false;
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } })._handle;
  if (typeof handle?.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  let kBuffer: symbol | undefined;
  let kBufferCb: symbol | undefined;
  for (const s of Object.getOwnPropertySymbols(socket)) {
    if (s.description === 'kBuffer') kBuffer = s;
    else if (s.description === 'kBufferCb') kBufferCb = s;
  }
  if (kBuffer === undefined || kBufferCb === undefined || fields[kBuffer] !== null) return false;
  fields[kBuffer] = SHARED_READ_BUFFER;
  fields[kBufferCb] = (nread: number, buf: Buffer): boolean => {
    // Decoded requests and frames are views into the chunk and may outlive this call: it must be our own.
    // Small reads come from Node's buffer pool, without an allocation of their own.
    const chunk = Buffer.allocUnsafe(nread);
    buf.copy(chunk, 0, 0, nread);
    onChunk(chunk);
    return true; // stopping is done by socket.pause(), which works in this mode too
  };
  handle.useUserBuffer(SHARED_READ_BUFFER);
  // Start reading through the stream's own first read. Chunks no longer pass through the stream,
  // so it stays "reading" from here on and never restarts the handle by itself; only pause() and
  // resume() stop and start it. (Left to resume()'s deferred first read, a pause() in the same
  // tick would be undone.)
  socket.read(0);
  return true;
}

/**
 * Hands every read of `socket` to `onChunk`, through the shared buffer where it can be switched
 * on, else through 'data' events, and starts reading (a socket accepted with pauseOnConnect
 * included).
 */
export function readChunks(socket: Socket, onChunk: (chunk: Buffer) => void): void {
  if (!readThroughSharedBuffer(socket, onChunk)) socket.on('data', onChunk);
  socket.resume();
}
