import { connect, type Socket } from 'node:net';

/** A RESP2 reply as the admin CLI sees it. */
export type RespValue = string | number | null | RespValue[] | Error;

/**
 * A minimal RESP2 client for the admin CLI: one connection, one command at a
 * time. Small on purpose, so that the CLI needs no client library at runtime.
 */
export class RespClient {
  private buf = Buffer.alloc(0);
  private waiter: ((v: RespValue) => void) | null = null;
  private failed: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(host: string, port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new RespClient(s)));
      s.once('error', reject);
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.(err);
  }

  call(...args: string[]): Promise<RespValue> {
    if (this.failed) return Promise.reject(this.failed);
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.socket.write(out);
    });
  }

  close(): void {
    this.socket.end();
  }

  private drain(): void {
    if (!this.waiter) return;
    const r = parse(this.buf, 0);
    if (!r) return;
    this.buf = this.buf.subarray(r.end);
    const w = this.waiter;
    this.waiter = null;
    w(r.value);
  }
}

function parse(buf: Buffer, at: number): { value: RespValue; end: number } | null {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at])) {
    case '+': return { value: line, end: next };
    case '-': return { value: new Error(line), end: next };
    case ':': return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos);
        if (!r) return null;
        items.push(r.value);
        pos = r.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${buf[at]}`);
  }
}
