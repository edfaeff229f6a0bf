// Proves the allocation-free lookups of the per-request path agree with the general ones:
// singleKeyIndex with getKeyIndexes for every command of the table, and the registry's
// name-bytes cache with the case-insensitive lookup it replaces (docs/decisions.md, "Local GET path").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCommandSpecs, CommandRegistry, getKeyIndexes, lookupCommand, singleKeyIndex } from '../../src/commands/table.js';
import { COMMAND_DOCS } from '../../src/commands/docs.js';

test('singleKeyIndex is the only key position getKeyIndexes gives, for every command and argc', () => {
  for (const spec of allCommandSpecs()) {
    for (let argc = 1; argc <= 9; argc++) {
      const args = Array.from({ length: argc }, (_, i) => Buffer.from(i === 0 ? spec.name : `a${i}`));
      const single = singleKeyIndex(spec, argc);
      if (spec.flags.includes('movablekeys')) {
        assert.equal(single, -1, spec.name);
        continue;
      }
      const all = getKeyIndexes(spec, args);
      assert.equal(single, all.length === 1 ? all[0] : -1, `${spec.name} argc ${argc}`);
    }
  }
});

test('the registry resolves names sent in any case through its name-bytes cache as the table does', () => {
  const registry = new CommandRegistry<string>();
  const names = Object.keys(COMMAND_DOCS).filter((n) => !n.includes('|') && lookupCommand(n) !== undefined);
  for (const name of names) registry.register({ name, handler: name, docs: COMMAND_DOCS[name] });
  const variants = (n: string): string[] => [n, n.toUpperCase(), n.replace(/./g, (c, i) => (i % 2 ? c.toUpperCase() : c))];
  // Twice over: the second round is served from the cache (with collisions between names).
  for (let round = 0; round < 2; round++) {
    for (const name of names) {
      for (const sent of variants(name)) {
        const r = registry.resolve([Buffer.from(sent), Buffer.from('a'), Buffer.from('b'), Buffer.from('c')].slice(0, Math.max(1, Math.abs(registry.get(name)!.spec.arity))));
        if (r.ok) assert.equal(r.command.handler, name, sent);
        else assert.ok(!/unknown command/.test(r.reply.kind === 'error' ? r.reply.message : ''), `${sent}: ${JSON.stringify(r.reply)}`);
      }
    }
  }
  // Bytes that only look like a name once lowercased as latin1 (À..Þ) or that differ by one byte are unknown.
  for (const sent of [Buffer.from('g\xc5t', 'latin1'), Buffer.from('gex'), Buffer.from('get\0'), Buffer.from('ge'), Buffer.alloc(0)]) {
    const r = registry.resolve([sent, Buffer.from('k')]);
    assert.equal(r.ok, false, JSON.stringify(sent.toString('latin1')));
  }
  assert.equal((registry.resolve([Buffer.from('GET'), Buffer.from('k')]) as { command: { handler: string } }).command.handler, 'get');
});
