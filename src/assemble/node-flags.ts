/**
 * The node flags the daemon runs with, written once. systemd/earwitness.service carries them in
 * its ExecStart line (test/unit/assemble/node-flags.test.ts holds that line to this list), and
 * `earwitness bench` forks its detection process with them (src/bench/pipeline-process.ts), so
 * what the benchmark measures is what runs.
 *
 * `--max-semi-space-size=4` (MB): the young generation's two semi-spaces, which V8 otherwise sizes
 * from the machine's RAM (on a 64-bit OS 1 MB with 1 GB, 4 MB with 2 GB, 16 MB with 8 GB or more:
 * `node --max-heap-size=<RAM/4 in MB>` shows what a board gets) and grows to while objects survive
 * scavenges. So the daemon's memory no longer depends on the board, and a benchmark on a big
 * machine measures what a Pi runs. 4 is the size measured lightest (docs/performance.md,
 * "Memory"): the bench's process stays flat at ~66 MB over an hour where the 16 MB default
 * settled at ~91; 6–8 MB settled at 75–77; 1–2 MB crept back to 80–82 through more promotion to
 * the old space. The real daemon, at a microphone's pace, stays within 75–84 MB instead of
 * peaking near 100. The costs: scavenges come ~3× as often (in the bench's hour 3 833 of
 * ~0.30 ms instead of 1 360 of ~0.46 ms, `--trace-gc`), so ~11 % of the 100 ms chunks include one
 * instead of ~4 %, and the p95 decision latency can carry one: medians of 8 runs each on a loaded
 * machine 3.85 vs 3.57 ms, ranges overlapping (p50 unchanged at 2.6 ms; the budget is 100 ms).
 * 8 MB kept p95 at the default's for ~10 MB more. And on a 1 GB board 4 MB is more than V8's own
 * 1 MB and costs ~2–3 MB there (measured with `--max-heap-size=256`): the price of one figure for
 * every board.
 *
 * Arguments in ExecStart rather than `Environment=NODE_OPTIONS=…` in the unit: they show in `ps`,
 * `systemctl status` and the process's own `process.execArgv` (which the benchmark reports), where
 * NODE_OPTIONS is invisible, and a drop-in that sets NODE_OPTIONS for something else cannot
 * silently replace them. V8 takes heap sizes only at start (`v8.setFlagsFromString` afterwards
 * changes nothing), so the daemon cannot set them itself. `earwitness run` started by hand goes
 * through the bin's `#!/usr/bin/env node`, which cannot pass flags portably (`env -S` is GNU
 * only): it is the same daemon, with V8's nursery for that machine. To run it as installed:
 * `node --max-semi-space-size=4 "$(command -v earwitness)" run`.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];
