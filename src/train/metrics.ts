/**
 * Classification metrics shared by `train` and `eval`: accuracy, unweighted average recall,
 * per-class precision/recall/F1, the confusion matrix, and danger-vs-rest recall, precision and
 * ROC AUC (danger score = summed probability of the danger classes).
 */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvalReport {
  accuracy: number;
  macro_recall: number;
  per_class: Record<string, ClassMetrics>;
  confusion: { labels: string[]; matrix: number[][] };
  danger: { recall: number; precision: number; auc: number; threshold: number };
  files: number;
  skipped: number;
}

export interface Prediction {
  /** Index of the true label in `labels`. */
  truth: number;
  /** Probabilities over `labels`. */
  probs: ArrayLike<number>;
}

const argmax = (p: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
};

const safeDiv = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** ROC AUC by the rank-sum (Mann–Whitney) formula, ties counted half. */
export function rocAuc(scores: number[], positive: boolean[]): number {
  const idx = scores.map((s, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = r;
    i = j + 1;
  }
  let nPos = 0, sumPos = 0;
  positive.forEach((p, i) => {
    if (p) {
      nPos++;
      sumPos += ranks[i]!;
    }
  });
  const nNeg = positive.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function evaluatePredictions(
  labels: string[],
  preds: Prediction[],
  dangerLabels: string[],
  dangerThreshold = 0.5,
  skipped = 0,
): EvalReport {
  const K = labels.length;
  const matrix = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let correct = 0;
  for (const p of preds) {
    const guess = argmax(p.probs);
    matrix[p.truth]![guess]!++;
    if (guess === p.truth) correct++;
  }
  const per_class: Record<string, ClassMetrics> = {};
  let recallSum = 0, recallCount = 0;
  labels.forEach((label, k) => {
    const tp = matrix[k]![k]!;
    const support = matrix[k]!.reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((a, row) => a + row[k]!, 0);
    const precision = safeDiv(tp, predicted);
    const recall = safeDiv(tp, support);
    per_class[label] = { precision, recall, f1: safeDiv(2 * precision * recall, precision + recall), support };
    if (support > 0) {
      recallSum += recall;
      recallCount++;
    }
  });
  const dangerIdx = labels.map((l, i) => (dangerLabels.includes(l) ? i : -1)).filter((i) => i >= 0);
  const scores = preds.map((p) => dangerIdx.reduce((s, i) => s + p.probs[i]!, 0));
  const isDanger = preds.map((p) => dangerIdx.includes(p.truth));
  let tp = 0, fp = 0, fn = 0;
  scores.forEach((s, i) => {
    const flagged = s >= dangerThreshold;
    if (flagged && isDanger[i]) tp++;
    else if (flagged) fp++;
    else if (isDanger[i]) fn++;
  });
  return {
    accuracy: safeDiv(correct, preds.length),
    macro_recall: safeDiv(recallSum, recallCount),
    per_class,
    confusion: { labels, matrix },
    danger: {
      recall: safeDiv(tp, tp + fn),
      precision: safeDiv(tp, tp + fp),
      auc: rocAuc(scores, isDanger),
      threshold: dangerThreshold,
    },
    files: preds.length,
    skipped,
  };
}

/**
 * The highest recall reachable at a given precision (and the threshold that gives it): the
 * operating point the danger target is stated in ("recall ≥ 0.90 at precision ≥ 0.80").
 */
export function recallAtPrecision(scores: number[], positive: boolean[], minPrecision: number): { recall: number; threshold: number } {
  let best = { recall: 0, threshold: 1 };
  for (const p of operatingPoints(scores, positive)) {
    const precision = p.tp / (p.tp + p.fp);
    const recall = p.nPos === 0 ? 0 : p.tp / p.nPos;
    if (precision >= minPrecision && recall > best.recall) best = { recall, threshold: p.threshold };
  }
  return best;
}

/** Counts at one threshold: every score ≥ `threshold` is flagged. */
export interface OperatingPoint {
  threshold: number;
  tp: number;
  fp: number;
  nPos: number;
  nNeg: number;
}

/**
 * The counts at every distinct threshold, highest first (tied scores are flagged together): what
 * ROC and precision–recall curves and recall at a precision are read from.
 */
export function operatingPoints(scores: number[], positive: boolean[]): OperatingPoint[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const nPos = positive.filter(Boolean).length;
  const nNeg = positive.length - nPos;
  const out: OperatingPoint[] = [];
  let tp = 0, fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (positive[i]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next !== undefined && scores[next] === scores[i]) continue;
    out.push({ threshold: scores[i]!, tp, fp, nPos, nNeg });
  }
  return out;
}

/** A text report in the shape of scikit-learn's classification_report (the first paper's Fig. 5). */
export function formatClassificationReport(r: EvalReport): string {
  const names = Object.keys(r.per_class);
  const w = Math.max(12, ...names.map((n) => n.length));
  const pad = (s: string, n: number): string => s.padStart(n);
  const f = (v: number): string => v.toFixed(2);
  const lines = [`${" ".repeat(w)} ${pad("precision", 9)} ${pad("recall", 9)} ${pad("f1-score", 9)} ${pad("support", 9)}`, ""];
  let total = 0;
  const macro = { p: 0, r: 0, f: 0 }, weighted = { p: 0, r: 0, f: 0 };
  for (const n of names) {
    const c = r.per_class[n]!;
    lines.push(`${pad(n, w)} ${pad(f(c.precision), 9)} ${pad(f(c.recall), 9)} ${pad(f(c.f1), 9)} ${pad(String(c.support), 9)}`);
    total += c.support;
    macro.p += c.precision / names.length;
    macro.r += c.recall / names.length;
    macro.f += c.f1 / names.length;
    weighted.p += c.precision * c.support;
    weighted.r += c.recall * c.support;
    weighted.f += c.f1 * c.support;
  }
  lines.push("");
  lines.push(`${pad("accuracy", w)} ${pad("", 9)} ${pad("", 9)} ${pad(f(r.accuracy), 9)} ${pad(String(total), 9)}`);
  lines.push(`${pad("macro avg", w)} ${pad(f(macro.p), 9)} ${pad(f(macro.r), 9)} ${pad(f(macro.f), 9)} ${pad(String(total), 9)}`);
  const t = Math.max(1, total);
  lines.push(`${pad("weighted avg", w)} ${pad(f(weighted.p / t), 9)} ${pad(f(weighted.r / t), 9)} ${pad(f(weighted.f / t), 9)} ${pad(String(total), 9)}`);
  return lines.join("\n");
}

export function formatConfusion(r: EvalReport): string {
  const { labels, matrix } = r.confusion;
  const w = Math.max(8, ...labels.map((l) => l.length));
  const head = `${"true \\ pred".padEnd(w)} ${labels.map((l) => l.slice(0, 7).padStart(7)).join(" ")}`;
  return [head, ...matrix.map((row, i) => `${labels[i]!.padEnd(w)} ${row.map((v) => String(v).padStart(7)).join(" ")}`)].join("\n");
}
