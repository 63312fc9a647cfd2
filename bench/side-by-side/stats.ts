// Summaries over runs. Ratios are taken run by run (each run against the
// baseline run of the same round) and then the median of those: a slow
// minute on the VM then moves both sides of a ratio instead of one.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** spread summarizes the values that exist (nulls and NaNs are runs without that reading). */
export function spread(xs: (number | null)[]): Spread | null {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/**
 * pairedRatio is the median over rounds of value/baseline for rounds where
 * both exist; rounds are matched by their round number.
 */
export function pairedRatio<T extends { round: number }>(xs: T[], baseline: T[], pick: (t: T) => number | null): number | null {
  const ratios: number[] = [];
  for (const x of xs) {
    const b = baseline.find((y) => y.round === x.round);
    const vx = pick(x);
    const vb = b ? pick(b) : null;
    if (vx !== null && vb !== null && vb > 0 && Number.isFinite(vx)) ratios.push(vx / vb);
  }
  return ratios.length > 0 ? median(ratios) : null;
}
