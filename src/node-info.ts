import type { NodeConfig } from './config.js';
import type { Host } from './host/host.js';
import type { Placement } from './cluster/placement.js';
import type { KvStateMachine } from './commands/apply.js';
import { Role } from './raft/types.js';

const ROLE_NAMES = ['follower', 'precandidate', 'candidate', 'leader'];

/** The INFO sections that describe this node's place in the cluster: replication, keyspace, raft. */
export function infoSections(n: { config: NodeConfig; host: Host; placement: Placement; sm: KvStateMachine }):
  Array<[string, Array<[string, string | number]>]> {
  const groups = n.host.groupIds().sort((a, b) => a - b);
  let led = 0;
  let keys = 0;
  let expires = 0;
  const raft: Array<[string, string | number]> = [];
  for (const g of groups) {
    const st = n.host.raft(g)!.status();
    if (st.role === Role.Leader) led++;
    if (g !== 0) {
      keys += n.sm.keyCount(g);
      expires += n.sm.expiresCount(g);
    }
    const p = n.placement.group(g);
    raft.push([`group${g}`, [
      `role=${ROLE_NAMES[st.role]}`, `leader=${st.leader}`, `term=${st.term}`, `commit=${st.commit}`,
      `applied=${st.applied}`, `first_index=${st.firstIndex}`, `last_index=${st.lastIndex}`,
      `voters=${st.confState.voters.join('|')}`, `slots=${p && g !== 0 ? `${p.slotStart}-${p.slotEnd}` : '-'}`,
    ].join(',')]);
  }
  return [
    ['replication', [
      ['role', 'master'],
      ['connected_slaves', 0],
      ['raftis_read_mode', n.config.readMode],
      ['raftis_redirect', n.config.redirect],
      ['raftis_groups_hosted', groups.length],
      ['raftis_groups_led', led],
    ]],
    ['keyspace', keys > 0 ? [['db0', `keys=${keys},expires=${expires},avg_ttl=0`]] : []],
    ['raft', [['node_id', n.config.nodeId], ...raft]],
  ];
}
