/** Summary statistics of timing samples (milliseconds unless said otherwise). */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile (q in [0, 100]) of already sorted values; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarise(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    n: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Rounds for reports: 3 significant digits below 100, integers above. */
export function round3(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (Math.abs(x) >= 100) return Math.round(x);
  return Number(x.toPrecision(3));
}

/**
 * Exact (Garwood) 95 % interval of a Poisson mean given `count` events: how many false alerts a
 * unit could really raise in the hours that showed `count` — one false alert in two hours of
 * streams is anything from 0.03 to 5.6 in those two hours (0.01 to 2.8 an hour). Found by bisection on the Poisson
 * distribution (no quantile tables needed).
 */
export function poissonInterval(count: number, level = 0.95): [number, number] {
  if (!Number.isInteger(count) || count < 0) throw new Error(`poissonInterval: count must be a whole number ≥ 0 (got ${count})`);
  const tail = (1 - level) / 2;
  // P(X ≤ k) for X ~ Poisson(mu), summed in log space.
  const cdf = (k: number, mu: number): number => {
    let term = -mu;
    let sum = Math.exp(term);
    for (let i = 1; i <= k; i++) {
      term += Math.log(mu) - Math.log(i);
      sum += Math.exp(term);
    }
    return Math.min(1, sum);
  };
  // The mu in [lo, hi] where f, decreasing in mu, crosses `target`.
  const solve = (f: (mu: number) => number, target: number): number => {
    let lo = 0;
    let hi = Math.max(10, 4 * count + 10);
    for (let i = 0; i < 200; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > target) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  const upper = solve((mu) => cdf(count, mu), tail);
  const lower = count === 0 ? 0 : solve((mu) => cdf(count - 1, mu), 1 - tail);
  return [lower, upper];
}

/** Wilson score 95 % interval of a share: `k` of `n` (n > 0), as fractions. */
export function wilsonInterval(k: number, n: number, z = 1.959964): [number, number] {
  if (!(n > 0) || k < 0 || k > n) throw new Error(`wilsonInterval: need 0 ≤ k ≤ n and n > 0 (got ${k} of ${n})`);
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = ((z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n)));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export const MB = 1024 * 1024;

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function nowMs(): number {
  return performance.now();
}
