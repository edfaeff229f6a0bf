import type { NodeId } from './types.js';

/** The largest index that a majority of `voters` have matched (Raft paper §5.3, §5.4). */
export function majorityIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[Math.floor(voters.length / 2)];
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tallies a (pre-)election among `voters`. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const need = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  if (granted >= need) return 'won';
  if (voters.length - rejected < need) return 'lost';
  return 'pending';
}

/** True when the nodes in `acked` form a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acked: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (acked(id)) n++;
  return n >= Math.floor(voters.length / 2) + 1;
}
