/** Redis's glob matcher (util.c stringmatchlen) over bytes: `*`, `?`, `[...]` with `^` and ranges, `\` escapes. */
export function globMatch(pattern: Buffer, str: Buffer, nocase = false): boolean {
  return match(pattern, 0, str, 0, nocase, 0);
}

function fold(c: number, nocase: boolean): number {
  return nocase && c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

function match(p: Buffer, pi: number, s: Buffer, si: number, nocase: boolean, depth: number): boolean {
  if (depth > 1000) return false;
  while (pi < p.length && si < s.length) {
    const c = p[pi];
    if (c === 0x2a) { // '*'
      while (pi + 1 < p.length && p[pi + 1] === 0x2a) pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k < s.length; k++) if (match(p, pi + 1, s, k, nocase, depth + 1)) return true;
      return false;
    } else if (c === 0x3f) { // '?'
      si++;
    } else if (c === 0x5b) { // '['
      pi++;
      const not = p[pi] === 0x5e;
      if (not) pi++;
      let matched = false;
      for (;;) {
        if (pi >= p.length) { pi--; break; }
        if (p[pi] === 0x5c && pi + 1 < p.length) {
          pi++;
          if (p[pi] === s[si]) matched = true;
        } else if (p[pi] === 0x5d) {
          break;
        } else if (pi + 2 < p.length && p[pi + 1] === 0x2d) {
          let start = p[pi];
          let end = p[pi + 2];
          const ch = fold(s[si], nocase);
          if (start > end) [start, end] = [end, start];
          start = fold(start, nocase);
          end = fold(end, nocase);
          pi += 2;
          if (ch >= start && ch <= end) matched = true;
        } else if (fold(p[pi], nocase) === fold(s[si], nocase)) {
          matched = true;
        }
        pi++;
      }
      if (not) matched = !matched;
      if (!matched) return false;
      si++;
    } else {
      if (c === 0x5c && pi + 1 < p.length) pi++;
      if (fold(p[pi], nocase) !== fold(s[si], nocase)) return false;
      si++;
    }
    pi++;
  }
  if (si === s.length) {
    while (pi < p.length && p[pi] === 0x2a) pi++;
  }
  return pi === p.length && si === s.length;
}
