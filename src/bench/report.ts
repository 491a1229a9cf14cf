/** The machine a benchmark ran on, and the printed tables. */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import type { PerformanceResults } from "./performance.js";
import type { PublishLatencyResults } from "./publish-latency.js";
import type { QualityResults } from "./quality.js";
import type { LengthBucket, QualitySummary } from "./stream-score.js";
import { describeResult, type SweepSetting, type Targets } from "./sweep.js";
import { poissonInterval, wilsonInterval } from "./stats.js";

export interface MachineInfo {
  cpu_model: string;
  nproc: number;
  mem_gb: number;
  node: string;
  tfjs: string;
  platform: string;
  /** CPUs this process may run on (/proc/self/status Cpus_allowed_list), e.g. "0". */
  cpus_allowed: string | null;
  pinned: boolean;
  /** 1-minute load average when the run started and ended: how noisy the numbers are. */
  loadavg_start: number | null;
  loadavg_end?: number | null;
}

function procField(file: string, re: RegExp): string | null {
  try {
    return re.exec(readFileSync(file, "utf8"))?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

export function loadAverage(): number | null {
  const v = procField("/proc/loadavg", /^(\S+)/);
  return v === null ? null : Number(v);
}

export function machineInfo(tfjsVersion: string): MachineInfo {
  const allowed = procField("/proc/self/status", /Cpus_allowed_list:\s*(\S+)/);
  const model = procField("/proc/cpuinfo", /model name\s*:\s*(.+)/) ?? cpus()[0]?.model ?? "unknown";
  return {
    cpu_model: model,
    // All CPUs of the machine (availableParallelism() would say 1 under taskset).
    nproc: cpus().length || availableParallelism(),
    mem_gb: Math.round(totalmem() / 1e8) / 10,
    node: process.version,
    tfjs: tfjsVersion,
    platform: `${process.platform}-${process.arch}`,
    cpus_allowed: allowed,
    pinned: allowed !== null && /^\d+$/.test(allowed),
    loadavg_start: loadAverage(),
  };
}

const f = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
}

export function formatPerformance(p: PerformanceResults, m: MachineInfo): string {
  const s = p.shipped;
  const out: string[] = [];
  out.push(
    `machine: ${m.cpu_model}, nproc ${m.nproc}, Node ${m.node}, tfjs ${m.tfjs}; ` +
      `${m.pinned ? `pinned to CPU ${m.cpus_allowed}` : `NOT pinned (CPUs ${m.cpus_allowed ?? "?"})`}; load average ${f(m.loadavg_start)} → ${f(m.loadavg_end ?? null)}\n`,
  );
  out.push(
    `shipped configuration: ${s.name} (${s.source}), ${s.arch}${s.units ? ` ${s.units} units` : ""}, ${s.quantization}, engine ${s.engine}${s.engine === "tfjs" ? `/${s.backend}` : ""}; ` +
      `scream branch: ${s.screams ? `${s.screams.name} ${s.screams.version} (its inference is in the pipeline's figures)` : "off"}\n`,
  );
  const pp = p.pipeline_process;
  out.push(
    `measured in a process of its own holding what the daemon holds for detection (the models loaded as the daemon loads them, the pipeline); ` +
      `tfjs loaded there: ${pp.tfjs_loaded ? "yes" : "no"}; node flags: ${pp.exec_argv.length > 0 ? pp.exec_argv.join(" ") : "none"}\n\n`,
  );
  const growth = p.rss_mb.after_1h === null ? null : p.rss_mb.after_1h - p.rss_mb.warm;
  const pl = p.pipeline;
  out.push(
    table(
      ["figure", "value"],
      [
        ["pipeline real-time factor (1 core)", f(pl.rtf, 4)],
        ["  features, ms per s of audio", f(pl.features_ms_per_audio_s)],
        ["  inference, ms per window (p50 / p95)", `${f(pl.infer_ms_per_window.p50)} / ${f(pl.infer_ms_per_window.p95)}`],
        ["  inference, ms per s of audio", f(pl.infer_ms_per_audio_s)],
        ["  decision, ms per window", f(pl.decide_ms_per_window, 3)],
        ["decision latency ms p50 / p95 / p99", `${f(p.decision_latency_ms.p50)} / ${f(p.decision_latency_ms.p95)} / ${f(p.decision_latency_ms.p99)}`],
        ["RSS MB warm / after 1 h / max", `${f(p.rss_mb.warm, 1)} / ${f(p.rss_mb.after_1h, 1)} / ${f(p.rss_mb.max, 1)}`],
        ["  RSS growth warm → after 1 h, MB", growth === null ? "–" : `${growth >= 0 ? "+" : ""}${f(growth, 1)}`],
        ["  RSS at the end: anonymous / file-backed, MB", pp.rss_split_mb ? `${f(pp.rss_split_mb.anon, 1)} / ${f(pp.rss_split_mb.file, 1)}` : "–"],
        ["heap MB warm / after 1 h", `${f(p.heap_mb.warm, 1)} / ${f(p.heap_mb.after_1h, 1)}`],
        ["model load ms (first / median of 3)", `${f(p.model_load_ms.first, 0)} / ${f(p.model_load_ms.median_of_3, 0)}`],
        ["bundle bytes", String(p.bundle_bytes)],
        ["audio through the pipeline, s", f(pl.audio_s, 0)],
      ],
    ),
  );
  out.push("\n");
  out.push(
    table(
      ["variant", "audio s", "ms/window p50", "p95", "infer ms/s", "RTF", "latency p95", "load ms", "bytes", "max Δp"],
      p.variants.map((v) => [
        v.name,
        f(v.audio_s, 0),
        f(v.infer_ms_per_window.p50),
        f(v.infer_ms_per_window.p95),
        f(v.infer_ms_per_audio_s, 1),
        f(v.rtf, 4),
        f(v.decision_latency_ms.p95, 1),
        f(v.load_ms, 0),
        v.bundle_bytes === null ? "–" : String(v.bundle_bytes),
        v.max_prob_diff_vs_shipped.toExponential(1),
      ]),
    ),
  );
  for (const n of p.notes) out.push(`note: ${n}\n`);
  return out.join("");
}

export function formatQuality(q: QualityResults): string {
  const row = (name: string, s: QualityResults["summary"]): string[] => [
    name,
    String(s.streams),
    f(s.audio_h, 2),
    `${s.false_alerts}`,
    f(s.false_alerts_per_h, 2),
    `${s.caught}/${s.passages}`,
    f(s.caught_share * 100, 1),
    f(s.onset_to_alert_s.p50, 1),
    f(s.onset_to_alert_s.p95, 1),
  ];
  return (
    table(
      ["corpus", "streams", "hours", "false alerts", "per h non-danger", "caught", "%", "latency p50 s", "p95 s"],
      [...Object.entries(q.per_corpus).map(([c, s]) => row(c, s)), row("all", q.summary)],
    ) +
    `caught by passage length: ${formatByLength(q.summary.by_length)}\n` +
    `speech passages caught ${q.summary.by_kind.speech.caught}/${q.summary.by_kind.speech.passages}; screams caught ${q.summary.by_kind.scream.caught}/${q.summary.by_kind.scream.passages}\n` +
    `false alerts by what was sounding: ${formatBySource(q.summary.by_source)}\n` +
    formatIntervals(q.summary) +
    `caught = an alert starts within the passage or ${q.grace_s} s after it (or one is on at its onset)${q.speakers ? `; speakers: ${q.speakers.join(" ")}` : ""}\n`
  );
}

/**
 * How far the streams pin the two figures down: "95 % intervals: 0.01–2.79 false alerts/h (exact
 * Poisson, 1 in 2.00 h of non-danger audio); caught 11.2–33.0 % (Wilson, 10 of 50 passages)".
 * Two hours of streams cannot tell 0.5 false alerts an hour from 2.
 */
export function formatIntervals(s: QualitySummary): string {
  if (!(s.non_danger_h > 0)) return "";
  const [lo, hi] = poissonInterval(s.false_alerts);
  const fa = `${f(lo / s.non_danger_h, 2)}–${f(hi / s.non_danger_h, 2)} false alerts/h (exact Poisson, ${s.false_alerts} in ${f(s.non_danger_h, 2)} h of non-danger audio)`;
  if (s.passages === 0) return `95 % interval: ${fa}\n`;
  const [a, b] = wilsonInterval(s.caught, s.passages);
  return `95 % intervals: ${fa}; caught ${f(a * 100, 1)}–${f(b * 100, 1)} % (Wilson, ${s.caught} of ${s.passages} passages)\n`;
}

/** "speech 3 in 1.20 h (2.50/h), sounds 5 in 0.40 h (12.50/h), noise 0 in 0.30 h (0.00/h)" */
export function formatBySource(b: QualitySummary["by_source"]): string {
  return (["speech", "sounds", "noise"] as const)
    .map((k) => `${k} ${b[k].false_alerts} in ${f(b[k].hours, 2)} h (${b[k].hours > 0 ? f(b[k].per_h, 2) : "–"}/h)`)
    .join(", ");
}

/** "< 5 s 3/20, 5–8 s 4/10, ≥ 8 s 5/6" */
export function formatByLength(buckets: readonly LengthBucket[]): string {
  return buckets
    .map((b) => `${b.min_s === 0 ? `< ${b.max_s} s` : b.max_s === null ? `≥ ${b.min_s} s` : `${b.min_s}–${b.max_s} s`} ${b.caught}/${b.passages}`)
    .join(", ");
}

export interface SweepReport {
  /** Which branch's settings were varied: the speech branch (detect.*) or, beside the configured speech branch, the scream branch (detect.screams). */
  branch: "speech" | "screams" | "pair";
  /** Each setting was replayed as the pair (speech and scream branch together). */
  pair: boolean;
  settings: number;
  targets: Targets;
  current: { setting: string; summary: QualitySummary };
  front: { setting: SweepSetting; scream?: SweepSetting; summary: QualitySummary }[];
  /** With --sweep-acceptance: the recordings and alerts asked for, and how many settings gave exactly those. */
  acceptance?: { recordings: { file: string; alerts: number }[]; eligible: number };
  /** The front on false alerts, speech passages and screams apart (kindFront); for rule checks, not printed. */
  kind_front: { setting: SweepSetting; scream?: SweepSetting; summary: QualitySummary }[];
  choice: { setting: SweepSetting; scream?: SweepSetting; summary: QualitySummary; margin?: { by: number; false_alerts_per_h: number }; rule: string; meets_targets: boolean; config: Record<string, unknown> } | null;
}

/** The Pareto front of a sweep, the configured setting's figures and the chosen default. */
export function formatSweep(r: SweepReport): string {
  const row = (name: string, s: QualitySummary): string[] => [
    name,
    f(s.false_alerts_per_h, 2),
    `${s.caught}/${s.passages}`,
    f(s.caught_share * 100, 1),
    `${s.by_kind.speech.caught} + ${s.by_kind.scream.caught}`,
    f(s.onset_to_alert_s.p50, 1),
  ];
  const chosen = r.choice ? describeResult(r.choice) : null;
  const what =
    r.branch === "pair"
      ? "pairs of settings (each branch's own front) replayed together"
      : r.branch === "screams"
        ? "scream-branch settings replayed beside the configured speech branch"
        : r.pair
          ? "speech settings replayed beside the configured scream branch"
          : "settings replayed";
  return (
    `sweep: ${r.settings} ${what} over the same windows; targets ≤ ${r.targets.maxFalsePerHour} false alerts/h, ≥ ${r.targets.minCaught * 100} % caught\n` +
    table(
      ["setting (Pareto front: nothing catches more with fewer false alerts)", "false/h", "caught", "%", "speech + screams", "latency p50 s"],
      [
        row(`configured: ${r.current.setting}`, r.current.summary),
        ...r.front.map((x) => row(describeResult(x) + (describeResult(x) === chosen ? "  ◀ chosen" : ""), x.summary)),
        // A choice tied with a front row on both counts (picked for its earlier alerts) is shown too.
        ...(r.choice && chosen && !r.front.some((x) => describeResult(x) === chosen) ? [row(`${chosen}  ◀ chosen (ties a front row on both counts)`, r.choice.summary)] : []),
      ],
    ) +
    (r.acceptance
      ? `acceptance: ${r.acceptance.eligible} of ${r.settings} settings raise exactly ${r.acceptance.recordings.map((a) => `${a.alerts} alert(s) on ${a.file}`).join(", ")}; the choice is among them\n`
      : "") +
    (r.choice
      ? `chosen (${r.choice.rule}): ${chosen}\n` +
        (r.choice.margin ? `  with thresholds ${r.choice.margin.by} lower it raises ${f(r.choice.margin.false_alerts_per_h, 2)} false alerts/h there\n` : "") +
        `  caught by passage length: ${formatByLength(r.choice.summary.by_length)}\n  ${r.branch === "screams" ? "detect.screams" : "detect"}: ${JSON.stringify(r.choice.config)}\n`
      : "no settings to choose from\n")
  );
}

export function formatPublishLatency(p: PublishLatencyResults): string {
  return (
    table(
      ["alert publishing (" + p.alerts + " alerts, " + p.broker + ")", "p50", "p95", "max"],
      [
        ["ALERT → outbox fsync'ed, ms", f(p.outbox_ms.p50), f(p.outbox_ms.p95), f(p.outbox_ms.max)],
        ["ALERT → subscriber has it, ms", f(p.delivered_ms.p50), f(p.delivered_ms.p95), f(p.delivered_ms.max)],
      ],
    ) + `target: within ${p.target_ms} ms; outbox in ${p.state_dir}\n`
  );
}
