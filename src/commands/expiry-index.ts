/**
 * An in-memory index of one group's keys that carry a TTL, kept by every
 * replica as it applies entries (and rebuilt from the store at start and after
 * a snapshot install), so the leader finds expired keys without scanning the
 * keyspace. It only chooses candidates: the deletion itself is a replicated op
 * that re-checks expiry at its entry's stamp.
 */
export class ExpiryIndex {
  /** key (latin1) -> expireAtMs: the truth. */
  private readonly at = new Map<string, number>();
  /** Min-heap of [expireAtMs, key]; entries whose time no longer matches `at` are stale. */
  private heap: Array<[number, string]> = [];

  get size(): number {
    return this.at.size;
  }

  set(key: string, expireAtMs: number): void {
    if (expireAtMs === 0) {
      this.at.delete(key);
      return;
    }
    if (this.at.get(key) === expireAtMs) return;
    this.at.set(key, expireAtMs);
    this.push([expireAtMs, key]);
    // Rewritten TTLs leave stale heap entries; rebuild before they dominate.
    if (this.heap.length > 2 * this.at.size + 1024) this.rebuild();
  }

  delete(key: string): void {
    this.at.delete(key);
  }

  clear(): void {
    this.at.clear();
    this.heap = [];
  }

  /** Up to `max` keys expired at `nowMs`, removed from the heap (put back with `retry`). */
  takeExpired(nowMs: number, max: number): string[] {
    const out: string[] = [];
    while (out.length < max && this.heap.length > 0 && this.heap[0][0] <= nowMs) {
      const [t, key] = this.pop();
      if (this.at.get(key) === t) out.push(key);
    }
    return out;
  }

  /**
   * Up to `max` keys with the soonest expiry (expired or not), removed from
   * the heap like takeExpired (put back with `retry`): volatile-ttl eviction.
   */
  takeSoonest(max: number): string[] {
    const out: string[] = [];
    while (out.length < max && this.heap.length > 0) {
      const [t, key] = this.pop();
      if (this.at.get(key) === t) out.push(key);
    }
    return out;
  }

  /** Puts back keys whose deletion was not proposed (e.g. leadership moved). */
  retry(keys: string[]): void {
    for (const k of keys) {
      const t = this.at.get(k);
      if (t !== undefined) this.push([t, k]);
    }
  }

  private rebuild(): void {
    this.heap = [...this.at].map(([k, t]) => [t, k] as [number, string]).sort((a, b) => a[0] - b[0]);
  }

  private push(e: [number, string]): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p][0] <= h[i][0]) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private pop(): [number, string] {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l][0] < h[m][0]) m = l;
        if (r < h.length && h[r][0] < h[m][0]) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
