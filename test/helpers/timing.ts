// The decision rule of the enumeration-timing tests: do two kinds of request (say,
// an address with an account and one without) take the same time?
//
// Samples come in pairs taken back to back, in the order AB, BA, AB, BA, ... (the
// sequence reads A B B A A B B A: each side follows each side equally often, and both
// requests of a pair meet the same machine load). Each pair gives one log-ratio
// ln(a/b), from which load that slows both requests of a pair cancels out. The verdict
// rests on the median of the log-ratios and its distribution-free confidence interval
// (the sign test: order statistics picked by the binomial(n, 1/2) distribution, valid
// whatever the shape of the noise), which a few requests stalled by a busy machine
// cannot move much:
//
//   different  the interval lies wholly beyond ±bound: a real difference      → fail
//   same       the interval lies wholly within ±bound: equal to within bound  → pass
//   unclear    the interval straddles a bound: take twice the pairs, up to a cap;
//              still unclear at the cap → pass (nothing is proven different)
//
// It fails only on a proven difference, so a busy machine makes it slower to decide
// but not flaky: with 99.9% intervals, two sides that take the same time are called
// different in about 1-3 of 10,000 comparisons on simulated busy machines (noisier
// than ours under CPU burners). It still fails on a real difference: 10% or more
// whenever the interval is narrower than ±5%, which 40-160 pairs of sign-ins give on a
// quiet machine; under heavy load it proves only larger differences (15% in about
// 60% of runs, 30% and more always). test/unit/timing-rule.test.ts shows both on
// synthetic data.

export type Outcome = 'same' | 'different' | 'unclear';

export interface RuleOptions {
  /** Relative difference that counts: 0.05 = 5% slower or faster. */
  bound: number;
  /** Two-sided confidence of the interval (0.999). */
  confidence: number;
}

export interface Verdict {
  outcome: Outcome;
  /** Pairs the verdict rests on. */
  n: number;
  /** Median of a/b over the pairs, and its confidence interval (as ratios, 1 = equal). */
  ratio: number;
  low: number;
  high: number;
}

export interface SequentialOptions extends RuleOptions {
  /** Pairs before the first look; each further look doubles them. */
  start: number;
  /** Most pairs taken; still unclear at this many, the comparison passes. */
  max: number;
}

/**
 * 5%: the differences we know remain are 1-2% (a found account's document is read and
 * decoded, 0.2-0.5 ms of a 30 ms sign-in) and must not fail; one extra database round
 * trip on one side is 3% of a sign-in and 25% of a forgot-password answer; the leaks
 * of issue 17 were 30-57%. 99.9%: four comparisons of up to three or four looks each
 * stay near one false failure in a thousand runs even on a very busy machine.
 * 40..160 pairs: a sign-in pair takes 60-120 ms; four comparisons fit in about 70 s
 * on a busy machine.
 */
export const DEFAULT_RULE: SequentialOptions = { bound: 0.05, confidence: 0.999, start: 40, max: 160 };

/** P(X <= k) for X ~ binomial(n, 1/2), exactly (n up to ~1000). */
export function binomialCdfHalf(n: number, k: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let p = 2 ** -n;
  let sum = p;
  for (let i = 0; i < k; i++) {
    p = (p * (n - i)) / (i + 1);
    sum += p;
  }
  return Math.min(1, sum);
}

const quantile = (sorted: number[], q: number) => {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
};

/**
 * The median of `values` and a distribution-free interval for it: [x(k), x(n+1-k)] with the
 * largest k for which P(binomial(n, 1/2) < k) <= (1 - confidence) / 2. Too few values for
 * any such k give the whole range as the interval (nothing is proven then).
 */
export function medianInterval(values: number[], confidence: number): { median: number; low: number; high: number } {
  if (!values.length) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const tail = (1 - confidence) / 2;
  let k = 0;
  while (k + 1 <= Math.floor((n + 1) / 2) && binomialCdfHalf(n, k) <= tail) k++;
  // k is now the count of order statistics cut off each side (k = 0: none qualify).
  return k === 0
    ? { median: quantile(sorted, 0.5), low: -Infinity, high: Infinity }
    : { median: quantile(sorted, 0.5), low: sorted[k - 1]!, high: sorted[n - k]! };
}

/** ln(a/b) of each pair. */
export function logRatios(pairs: ReadonlyArray<readonly [number, number]>): number[] {
  return pairs.map(([a, b]) => {
    if (!(a > 0 && b > 0)) throw new Error(`a time must be positive: ${a}, ${b}`);
    return Math.log(a / b);
  });
}

/** The verdict on the log-ratios gathered so far. */
export function judge(ratios: number[], options: RuleOptions): Verdict {
  const { median, low, high } = medianInterval(ratios, options.confidence);
  const limit = Math.log(1 + options.bound);
  const outcome: Outcome = low > limit || high < -limit ? 'different'
    : low > -limit && high < limit ? 'same'
    : 'unclear';
  return { outcome, n: ratios.length, ratio: Math.exp(median), low: Math.exp(low), high: Math.exp(high) };
}

export interface Comparison extends Verdict {
  /** The comparison fails: the interval lies wholly beyond the bound. */
  fails: boolean;
  pairs: Array<[number, number]>;
  /** A line for the test's output. */
  summary: string;
}

const percent = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

/**
 * Takes pairs of `measure('a', i)` and `measure('b', i)` in ABBA order, looking at the verdict after
 * `start` pairs and again each time they have doubled, until it is not unclear or `max` pairs are in.
 * The two measurements of a pair run back to back; `between` (if given) runs between pairs, untimed.
 */
export async function comparePaired(
  measure: (side: 'a' | 'b', pair: number) => Promise<number>,
  options: Partial<SequentialOptions> & { between?: () => Promise<void> } = {},
): Promise<Comparison> {
  const rule = { ...DEFAULT_RULE, ...options };
  const pairs: Array<[number, number]> = [];
  let verdict: Verdict | undefined;
  let target = rule.start;
  for (;;) {
    while (pairs.length < target) {
      const i = pairs.length;
      const pair: [number, number] = [0, 0];
      for (const side of i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) pair[side === 'a' ? 0 : 1] = await measure(side, i);
      pairs.push(pair);
      await options.between?.();
    }
    verdict = judge(logRatios(pairs), rule);
    if (verdict.outcome !== 'unclear' || pairs.length >= rule.max) break;
    target = Math.min(rule.max, pairs.length * 2);
  }
  const median = (side: 0 | 1) => quantile(pairs.map((p) => p[side]).sort((x, y) => x - y), 0.5);
  const fails = verdict.outcome === 'different';
  const summary = `${verdict.outcome} after ${verdict.n} pairs: a/b ${percent(verdict.ratio)} `
    + `(${+(rule.confidence * 100).toFixed(1)}% interval ${percent(verdict.low)} .. ${percent(verdict.high)}, bound ±${rule.bound * 100}%); `
    + `medians a ${median(0).toFixed(1)} ms, b ${median(1).toFixed(1)} ms`;
  return { ...verdict, fails, pairs, summary };
}
