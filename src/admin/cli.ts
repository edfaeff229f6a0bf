#!/usr/bin/env node
/**
 * `raftis-admin`: operator commands over RESP, wrapping RAFTIS and CLUSTER
 * commands (docs/cluster.md). Talks to any node (default 127.0.0.1:7001,
 * or --server host:port, or RAFTIS_ADMIN_SERVER).
 *
 *   raftis-admin groups
 *   raftis-admin nodes
 *   raftis-admin placement
 *   raftis-admin add-node 4@127.0.0.1:7004:17004 [--wait]
 *   raftis-admin remove-node 3 [--wait]
 *   raftis-admin move-replica <group> <from-node> <to-node> [--wait]
 *   raftis-admin transfer-leader <group> <to-node>
 *   raftis-admin balance
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RespClient, type RespValue } from './resp-client.js';

const USAGE = `usage: raftis-admin [--server host:port] <command> [args] [--wait]
commands:
  groups                               every group: leader, term, commit, applied, members and their lag
  nodes                                CLUSTER NODES
  placement                            the placement in force (group 0)
  add-node <id>@<host>:<port>:<peerPort>  add a node (start it first with --join yes)
  remove-node <id>                     move a node's replicas away, then forget it
  move-replica <group> <from> <to>     move one replica of a group
  transfer-leader <group> <to>         make a voter the group's leader
  balance                              one leader-balancing round on the server node
--wait: after add-node, remove-node or move-replica, wait until every group has settled`;

function pairs(v: RespValue): Map<string, RespValue> {
  const m = new Map<string, RespValue>();
  const a = v as RespValue[];
  for (let i = 0; i + 1 < a.length; i += 2) m.set(String(a[i]), a[i + 1]);
  return m;
}

/** RAFTIS GROUPS as an aligned text table. */
export function formatGroups(reply: RespValue): string {
  const rows = [['group', 'slots', 'leader', 'term', 'commit', 'applied', 'settled', 'members (node:role:applied:lag:health)']];
  for (const g of reply as RespValue[]) {
    const m = pairs(g);
    const members = (m.get('members') as RespValue[]).map((x) => {
      const mm = pairs(x);
      return `${mm.get('node')}:${mm.get('role')}:${mm.get('applied')}:${mm.get('lag')}:${mm.get('health')}`;
    });
    rows.push([String(m.get('group')), String(m.get('slots') || '-'), String(m.get('leader')), String(m.get('term')),
      String(m.get('commit')), String(m.get('applied')), m.get('settled') === 1 ? 'yes' : 'no', members.join(' ')]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

async function waitSettled(c: RespClient, gone?: string): Promise<void> {
  for (;;) {
    const groups = await c.call('RAFTIS', 'GROUPS');
    const settled = !(groups instanceof Error) && (groups as RespValue[]).every((g) => pairs(g).get('settled') === 1);
    let forgotten = true;
    if (gone) {
      const p = pairs(await c.call('RAFTIS', 'PLACEMENT'));
      forgotten = !(p.get('members') as string[]).some((m) => m.startsWith(`${gone}@`));
    }
    if (settled && forgotten) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function run(argv: string[], out: (s: string) => void): Promise<number> {
  let server = process.env.RAFTIS_ADMIN_SERVER ?? '127.0.0.1:7001';
  let wait = false;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--server') server = argv[++i];
    else if (argv[i] === '--wait') wait = true;
    else args.push(argv[i]);
  }
  const [cmd, ...rest] = args;
  if (!cmd || cmd === 'help' || cmd === '--help') {
    out(USAGE);
    return cmd ? 0 : 2;
  }
  const at = server.lastIndexOf(':');
  const c = await RespClient.open(server.slice(0, at), Number(server.slice(at + 1)));
  try {
    let reply: RespValue;
    switch (cmd) {
      case 'groups':
        reply = await c.call('RAFTIS', 'GROUPS');
        if (!(reply instanceof Error)) out(formatGroups(reply));
        break;
      case 'nodes':
        reply = await c.call('CLUSTER', 'NODES');
        if (!(reply instanceof Error)) out(String(reply).trimEnd());
        break;
      case 'placement': {
        reply = await c.call('RAFTIS', 'PLACEMENT');
        if (reply instanceof Error) break;
        const p = pairs(reply);
        out(`version ${p.get('version')}\nmembers ${(p.get('members') as string[]).join(' ')}\nleaving ${(p.get('leaving') as number[]).join(' ') || '-'}`);
        for (const g of p.get('groups') as number[][]) out(`group ${g[0]}: ${g.slice(1).join(' ')}`);
        break;
      }
      case 'add-node': {
        const m = /^(\d+)@([^:]+):(\d+):(\d+)$/.exec(rest[0] ?? '');
        if (!m) {
          out('add-node needs <id>@<host>:<port>:<peerPort>');
          return 2;
        }
        reply = await c.call('RAFTIS', 'ADD-NODE', m[1], m[2], m[3], m[4]);
        break;
      }
      case 'remove-node':
        reply = await c.call('RAFTIS', 'REMOVE-NODE', rest[0] ?? '');
        break;
      case 'move-replica':
        reply = await c.call('RAFTIS', 'MOVE-REPLICA', rest[0] ?? '', rest[1] ?? '', rest[2] ?? '');
        break;
      case 'transfer-leader':
        reply = await c.call('RAFTIS', 'TRANSFER-LEADER', rest[0] ?? '', rest[1] ?? '');
        break;
      case 'balance':
        reply = await c.call('RAFTIS', 'BALANCE');
        break;
      default:
        out(USAGE);
        return 2;
    }
    if (reply instanceof Error) {
      out(`(error) ${reply.message}`);
      return 1;
    }
    if (['add-node', 'remove-node', 'move-replica'].includes(cmd)) {
      const p = pairs(reply);
      out(`placement version ${p.get('version')}`);
      for (const mv of p.get('moves') as string[]) out(`  ${mv}`);
      if (wait) {
        await waitSettled(c, cmd === 'remove-node' ? rest[0] : undefined);
        out('settled');
      }
    } else if (['transfer-leader', 'balance'].includes(cmd)) {
      out(String(reply));
    }
    return 0;
  } finally {
    c.close();
  }
}

// Through the package's bin link argv[1] is the link, hence realpath.
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  run(process.argv.slice(2), (s) => process.stdout.write(s + '\n')).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`raftis-admin: ${err.message}\n`);
      process.exit(1);
    },
  );
}
