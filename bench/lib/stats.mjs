/** Small statistics over arrays of milliseconds. */

/** Linear-interpolated percentile (p in 0..100) of an unsorted array; NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = ((s.length - 1) * p) / 100;
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return s[lo] + (s[hi] - s[lo]) * (idx - lo);
}

export function summarize(values) {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  return {
    n,
    median: percentile(values, 50),
    p90: percentile(values, 90),
    min: n ? Math.min(...values) : NaN,
    max: n ? Math.max(...values) : NaN,
    mean,
  };
}

export function round(x, digits = 1) {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
