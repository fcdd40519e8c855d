/** Uniform numbers in [0, 1): randomness comes in through this seam, seeded, so runs and tests repeat. */
export type Random = () => number;

/** Deterministic uniform numbers in [0, 1) from a seed (mulberry32): the simulator's, tests' and benchmarks'. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
