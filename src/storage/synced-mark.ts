/**
 * The synced mark of the segmented log: a 20-byte file saying up to which segment and
 * offset the log is known to be fsynced (seq f64 | offset f64 | crc32 u32). It is
 * rewritten in place after each sync write, without an fsync of its own: after a power
 * loss it may lag behind the log, never run ahead of it, since it is written only once
 * the fdatasync it reports has returned. Damage inside the marked range is corruption.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const FILE = 'synced.ckpt';
const BYTES = 20;

export interface SyncedPosition {
  seq: number;
  offset: number;
}

export class SyncedMark {
  private fd = -1;
  private readonly buf = Buffer.alloc(BYTES);
  private readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, FILE);
  }

  /** The recorded position, or {0, 0} when the file is absent or unreadable (then nothing is known synced). */
  read(): SyncedPosition {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.path);
    } catch {
      return { seq: 0, offset: 0 };
    }
    if (buf.length < BYTES || crc32(buf.subarray(0, 16)) !== buf.readUInt32LE(16)) return { seq: 0, offset: 0 };
    return { seq: buf.readDoubleLE(0), offset: buf.readDoubleLE(8) };
  }

  open(): void {
    // Not 'w': truncating the file would forget how far the log is synced until the next write.
    this.fd = fs.openSync(this.path, fs.existsSync(this.path) ? 'r+' : 'w+');
  }

  /** Records that everything before `offset` in segment `seq` is synced (one pwrite, no fsync). */
  write(seq: number, offset: number): void {
    this.buf.writeDoubleLE(seq, 0);
    this.buf.writeDoubleLE(offset, 8);
    this.buf.writeUInt32LE(crc32(this.buf.subarray(0, 16)), 16);
    fs.writeSync(this.fd, this.buf, 0, BYTES, 0);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
