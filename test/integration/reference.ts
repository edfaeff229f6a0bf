// Shared by the differential tests: a real redis-server to compare with, and a raw RESP client
// that returns reply bytes exactly as a server sent them.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/** A minimal raw RESP client: sends one command, returns the raw reply bytes as a string. */
export class Raw {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Raw(s)));
      s.on('error', reject);
    });
  }

  async send(args: string[]): Promise<string> {
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    this.sock.write(out);
    for (;;) {
      const end = replyEnd(this.buf, 0);
      if (end > 0) {
        const r = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end);
        return r;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Resolves true once the server has closed (or ended) the connection. */
  closed(): Promise<boolean> {
    const s = this.sock;
    if (s.destroyed || s.readableEnded) return Promise.resolve(true);
    return new Promise((resolve) => {
      s.once('end', () => resolve(true));
      s.once('close', () => resolve(true));
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** End offset of one complete RESP2 reply at `at`, or -1. */
function replyEnd(b: Buffer, at: number): number {
  if (at >= b.length) return -1;
  const nl = b.indexOf('\r\n', at);
  if (nl < 0) return -1;
  const n = Number(b.toString('latin1', at + 1, nl));
  switch (b[at]) {
    case 0x24: return n < 0 ? nl + 2 : (nl + 2 + n + 2 <= b.length ? nl + 2 + n + 2 : -1);
    case 0x2a: {
      let p = nl + 2;
      for (let i = 0; i < n; i++) {
        p = replyEnd(b, p);
        if (p < 0) return -1;
      }
      return p;
    }
    default: return nl + 2;
  }
}

/** A real redis-server (no persistence) on a random port, ready to take connections. */
export class ReferenceRedis {
  readonly port = 21000 + Math.floor(Math.random() * 8000);
  private proc: ChildProcess | null = null;

  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        (await Raw.open(this.port)).close();
        return;
      } catch (err) {
        if (i >= 100) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  stop(): void {
    this.proc?.kill('SIGKILL');
  }
}
