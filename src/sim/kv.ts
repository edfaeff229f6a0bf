/**
 * The simulator's replicated state machine: a string map. Each command entry carries the client
 * id and op number that proposed it, so that the proposing node can match the reply. Applying is
 * deterministic; the image (for snapshots) is the serialized map plus the applied index.
 */
import type { Entry } from '../raft/types.js';
import { EntryType } from '../raft/types.js';

export interface KvCommand {
  clientId: number;
  opId: number;
  key: string;
  value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([command.clientId, command.opId, command.key, command.value]));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  const [clientId, opId, key, value] = JSON.parse(decoder.decode(data)) as [number, number, string, string];
  return { clientId, opId, key, value };
}

export class KvStateMachine {
  /** Invariant: `applied` is the index of the last entry whose effect is in `map`. */
  applied = 0;
  map = new Map<string, string>();

  /** Applies one committed entry; returns the command if it was a client write. */
  apply(entry: Entry): KvCommand | null {
    if (entry.index !== this.applied + 1) {
      throw new Error(`kv: entry ${entry.index} applied after ${this.applied} (gap or repeat)`);
    }
    this.applied = entry.index;
    if (entry.type !== EntryType.Normal || entry.data.length === 0) return null;
    const command = decodeCommand(entry.data);
    this.map.set(command.key, command.value);
    return command;
  }

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  /** A canonical rendering of the state, equal on every replica at the same applied index. */
  digest(): string {
    return JSON.stringify([...this.map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }

  image(): Uint8Array {
    return encoder.encode(JSON.stringify({ applied: this.applied, map: JSON.parse(this.digest()) as unknown }));
  }

  restore(image: Uint8Array): void {
    const parsed = JSON.parse(decoder.decode(image)) as { applied: number; map: Array<[string, string]> };
    this.applied = parsed.applied;
    this.map = new Map(parsed.map);
  }
}
