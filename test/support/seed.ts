// Seeds for randomized tests: printed by each test, reproduced with SHIPLINE_SEED.

/** A small seeded PRNG (mulberry32): the same seed gives the same faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a randomized test: SHIPLINE_SEED when set (to reproduce a run), else a fresh one. */
export function testSeed(): number {
  const s = process.env.SHIPLINE_SEED;
  if (s !== undefined && /^\d+$/.test(s)) return Number(s);
  return Math.floor(Math.random() * 2 ** 31);
}
