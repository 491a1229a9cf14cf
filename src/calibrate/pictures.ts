/**
 * What `calibrate --plots DIR` draws, from its report: pure functions from the report to SVG
 * files by name (src/report/charts.ts draws; the command writes the files).
 *
 * The candidates are a grid, enter threshold × k of n (simulate.ts), so one line per chart is a
 * slice of it through the setting the report stands on — the recommended one, or the defaults
 * when nothing is known about misses (the defaults are always among the candidates, the current
 * setting need not be):
 *
 *   calibration.svg        the thresholds at that setting's k of n
 *   calibration-k-of-n.svg the k-of-n settings at that setting's threshold, most sensitive first
 *
 * Each shows false alerts per hour on the room's audio and, when passages could be mixed in, the
 * share of them caught (right axis).
 */
import { calibrationChartSvg, type CalibrationRow } from "../report/charts.js";
import type { CalibrationReport } from "./report.js";
import type { CandidateResult } from "./simulate.js";

const rowOf = (c: CandidateResult): Omit<CalibrationRow, "threshold" | "label"> =>
  c.passages > 0 ? { falseAlertsPerHour: c.perHour, caught: c.caught, total: c.passages } : { falseAlertsPerHour: c.perHour };

/** The setting the slices go through: the recommendation, else the defaults. */
export function chartAnchor(r: CalibrationReport): CandidateResult {
  return r.recommended ?? r.defaults;
}

/** The thresholds at the anchor's k of n (a rate that is not finite — no audio — is left out). */
export function thresholdRows(r: CalibrationReport): CalibrationRow[] {
  const a = chartAnchor(r);
  return r.candidates
    .filter((c) => c.k === a.k && c.n === a.n && Number.isFinite(c.perHour))
    .map((c) => ({ threshold: c.enterThreshold, ...rowOf(c) }));
}

/** The k-of-n settings at the anchor's threshold, in the grid's order (fewest windows needed first). */
export function kOfNRows(r: CalibrationReport): CalibrationRow[] {
  const a = chartAnchor(r);
  return r.candidates
    .filter((c) => Math.abs(c.enterThreshold - a.enterThreshold) < 1e-9 && Number.isFinite(c.perHour))
    .map((c) => ({ label: `${c.k} of ${c.n}`, ...rowOf(c) }));
}

/** `where` names the room and model in the titles ("kitchen, home-gru 1.2.0"). */
export function calibrationPictures(r: CalibrationReport, where: string): Record<string, string> {
  const a = chartAnchor(r);
  const why = r.recommended ? "recommended" : "defaults";
  const out: Record<string, string> = {};
  const thresholds = thresholdRows(r);
  if (thresholds.length > 0) {
    out["calibration.svg"] = calibrationChartSvg(thresholds, `False alerts per hour against the threshold — ${where}, k of n ${a.k}/${a.n} (${why})`);
  }
  const kn = kOfNRows(r);
  if (kn.length > 0) {
    out["calibration-k-of-n.svg"] = calibrationChartSvg(kn, `False alerts per hour by k of n — ${where}, enter threshold ${a.enterThreshold} (${why})`);
  }
  return out;
}
