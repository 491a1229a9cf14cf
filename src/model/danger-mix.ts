/**
 * The danger head's arithmetic without tfjs (the daemon's lean engine never loads it): the check of
 * its danger classes and its output for one window. The layer and the reasoning are in
 * src/model/danger-head.ts.
 */

/** Throws unless `danger` are distinct class indices below `units`, leaving at least one class out. */
export function checkDangerClasses(units: number, danger: readonly unknown[]): void {
  const ok =
    Number.isInteger(units) &&
    units >= 2 &&
    danger.length >= 1 &&
    danger.length < units &&
    new Set(danger).size === danger.length &&
    danger.every((d) => Number.isInteger(d) && (d as number) >= 0 && (d as number) < units);
  if (!ok) {
    throw new Error(`DangerHead needs 1 to ${units - 1} distinct danger class indices below ${units} (got units ${String(units)}, danger ${JSON.stringify(danger)})`);
  }
}

/**
 * The head's output from the class logits and the danger logit, written into `out` (the lean
 * engine's version of `call`, for one window). `logits` is overwritten.
 */
export function mixDangerHead(logits: Float64Array, dangerLogit: number, isDanger: Uint8Array, out: Float32Array): Float32Array {
  const h = 1 / (1 + Math.exp(-dangerLogit));
  const n = logits.length;
  let maxD = -Infinity, maxS = -Infinity;
  for (let k = 0; k < n; k++) {
    if (isDanger[k]) maxD = Math.max(maxD, logits[k]!);
    else maxS = Math.max(maxS, logits[k]!);
  }
  let sumD = 0, sumS = 0;
  for (let k = 0; k < n; k++) {
    const e = Math.exp(logits[k]! - (isDanger[k] ? maxD : maxS));
    logits[k] = e;
    if (isDanger[k]) sumD += e;
    else sumS += e;
  }
  for (let k = 0; k < n; k++) out[k] = isDanger[k] ? (h * logits[k]!) / sumD : ((1 - h) * logits[k]!) / sumS;
  return out;
}
