// Regenerates src/commands/acl-table.ts from a local redis-server 7.0 (COMMAND INFO):
// every command and subcommand with its ACL categories and key-spec read/write needs.
// Usage: node scripts/gen-acl-table.mjs <port>
import { writeFileSync } from 'node:fs';
import Redis from 'ioredis';

const port = Number(process.argv[2] ?? 6399);
const client = new Redis({ port, lazyConnect: true });
await client.connect();
const infos = await client.call('COMMAND', 'INFO');
const rows = [];
function keyNeeds(flags) {
  let n = 0;
  if (flags.includes('access')) n |= 1;
  if (flags.includes('insert') || flags.includes('delete') || flags.includes('update')) n |= 2;
  return n;
}
function asObj(list) { const o = {}; for (let i = 0; i < list.length; i += 2) o[list[i]] = list[i + 1]; return o; }
function add(info) {
  const name = info[0];
  const cats = info[6].map((c) => c.slice(1));
  const specs = (info[8] ?? []).map((s) => {
    const o = asObj(s);
    const bs = asObj(o.begin_search);
    const fk = asObj(o.find_keys);
    const needs = keyNeeds(o.flags);
    if (bs.type === 'index' && fk.type === 'range') {
      const spec = asObj(bs.spec); const r = asObj(fk.spec);
      return [needs, spec.index, r.lastkey, r.keystep, r.limit];
    }
    return [needs];
  });
  rows.push([name, cats, specs]);
  for (const sub of info[9] ?? []) add(sub);
}
for (const info of infos) add(info);
rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
const body = rows.map((r) => `  ${JSON.stringify(r)},`).join('\n');
writeFileSync(new URL('../src/commands/acl-table.ts', import.meta.url), `/**
 * Every Redis 7.0 command and subcommand with its ACL categories and, per key spec, what ACL
 * needs of a key (bit 1: read, bit 2: write) and where the keys are ([needs, index, lastkey,
 * keystep, limit] for index/range specs; [needs] for the others). Generated from redis-server
 * 7.0.15's COMMAND INFO by scripts/gen-acl-table.mjs; do not edit by hand. ACL rules name and
 * count commands over this whole table, as Redis does, so that rule texts and errors match.
 */
export type AclKeySpec = [needs: number, index?: number, lastkey?: number, keystep?: number, limit?: number];
export type AclTableRow = [name: string, categories: string[], keySpecs: AclKeySpec[]];

export const ACL_TABLE: AclTableRow[] = [
${body}
];
`);
console.log(rows.length, 'commands');
await client.quit();
