/**
 * The simulator's agenda: a binary min-heap of events ordered by virtual time, ties broken by
 * insertion order, so that one seed always replays the same interleaving.
 */
export interface SimEvent {
  timeMs: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private heap: SimEvent[] = [];
  private seqNext = 0;

  get size(): number {
    return this.heap.length;
  }

  push(timeMs: number, run: () => void): void {
    const event = { timeMs, seq: this.seqNext++, run };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
