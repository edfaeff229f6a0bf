/** Broken invariants are bugs: throw, in production too (STYLE.md §6). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
