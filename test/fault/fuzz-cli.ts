/**
 * The long fuzz: `npm run fuzz -- --inputs 1000000 [--seed N]` runs that many inputs through
 * the RESP decoder and as many through the peer frame decoder; exits non-zero on the first
 * broken property, naming its seed and input.
 */
import { performance } from 'node:perf_hooks';
import { fuzzFrames, fuzzResp } from './fuzz.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const inputs = Number(flag('inputs') ?? 1_000_000);
const seed = Number(flag('seed') ?? Math.floor(Math.random() * 2 ** 31));
for (const [name, fuzz] of [['RESP decoder', fuzzResp], ['peer frame decoder', fuzzFrames]] as const) {
  const t = performance.now();
  const s = fuzz(inputs, seed);
  console.log(`${name}: ${s.inputs} inputs (seed ${seed}), ${s.rejected} rejected with a protocol error, ${s.decoded} commands/frames decoded, ` +
    `slowest input ${s.slowestMs.toFixed(1)} ms, heap growth ${s.heapGrowthMb.toFixed(1)} MB, ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
