/**
 * `earwitness calibrate --from-daemon` end to end: the real daemon (a child process, fed by the
 * fake `arecord`) listens to a room; the real CLI reads the window scores it remembers over its
 * status socket and reports — while the daemon goes on deciding windows, before, during and
 * after.
 *
 * Ten minutes of audio cannot be had in a test of ~30 s: the microphone supervisor raises
 * `mic_rate` above 1.6 × real time (src/audio/microphone.ts), so the fake plays at the harness's
 * 1.5 ×. The test therefore checks that the 10-minute minimum holds for the daemon's scores too,
 * and takes the figures with --force; the minimum itself is measured on a recording in
 * test/integration/tools/calibrate.test.ts.
 *
 * The room: quiet noise (under the energy gate, score 0) with one loud 4 s passage, which the
 * constant model calls angry: one false alert under every setting (unsmoothed), as on a recording.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { medianDbfs } from "../../../src/calibrate/from-daemon.js";
import type { StatusClient } from "../../../src/status/client.js";
import type { StatusSocketMessage } from "../../../src/status/protocol.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { waitFor } from "../mqtt/watcher.js";
import { listFiles, noise, runCli, startDaemon, waitForStatusSocket, writeConfig, writeWav, type CliResult } from "./harness.js";
import { daemonWorld } from "../world.js";

const world = daemonWorld("ew-calibrate-daemon");
let status: StatusClient | null = null;

afterEach(() => {
  status?.close();
  status = null;
});

describe("calibrate --from-daemon against a running daemon (integration)", () => {
  it("reads the daemon's scores while it keeps protecting: refuses under 10 min, with --force reports the false alert and catches mixed into noise at the room's level", async () => {
    const stateDir = path.join(world.root, "state");
    const tmp = path.join(world.root, "tmp");
    const modelDir = path.join(world.root, "model");
    await mkdir(tmp, { recursive: true });
    await writeConstantBundle(modelDir);
    // 4 s quiet, 4 s loud, then quiet for longer than the test runs (88 s of audio, ~59 s at 1.5 ×);
    // then the recorder stalls rather than loop back to the loud passage.
    const wav = await writeWav(path.join(world.root, "room.wav"), noise(4, 0.0005, 1), noise(4, 0.3, 2), noise(80, 0.0005, 3));
    const configPath = await writeConfig(path.join(world.root, "config.yaml"), {
      deviceId: "calib",
      stateDir,
      modelDir,
      brokerUrl: world.broker.url,
      audio: "{ source: arecord, device: default, restart_backoff_min_s: 0.5, wait_for_device_s: 0, stall_timeout_s: 300 }",
      // Unsmoothed, so that the 4 s loud passage reaches every setting's threshold for 10 of 12
      // windows (the default ema 6 rises too slowly for that); this test is about what calibrate
      // reads from a running daemon, not about the default smoothing.
      detect: "{ smoothing: { method: none } }",
    });
    const calibrate = (...args: string[]): Promise<CliResult> => runCli(["calibrate", "--from-daemon", "--config", configPath, ...args], { HOME: world.root, TMPDIR: tmp });

    const d = startDaemon(configPath, { FAKE_ARECORD_WAV: wav, FAKE_ARECORD_END: "stall" }, tmp);
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready");
    status = await waitForStatusSocket(path.join(stateDir, "status.sock"));
    const telemetry: { at: number; windows: number }[] = [];
    status.onMessage((m: StatusSocketMessage) => {
      if (m.type === "telemetry") telemetry.push({ at: Date.now(), windows: m.windows_decided });
    });
    const windowsNow = (): number => telemetry.at(-1)?.windows ?? 0;
    const windowsBetween = (from: number, to: number): number[] => telemetry.filter((t) => t.at >= from && t.at <= to).map((t) => t.windows);

    // The loud passage has been heard and the alert raised (protection works), and a few quiet
    // seconds after it: every setting's alert is in the remembered scores.
    await d.waitLog((l) => l.msg === "ALERT: danger heard", "the loud passage's alert");
    await waitFor(() => windowsNow() >= 32, "16 s of audio decided", 20_000);

    // Under the 10-minute minimum: refused, naming what the daemon heard and --force.
    const refusedAt = Date.now();
    const refused = await calibrate();
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/TOO_LITTLE_AUDIO: only \d+\.\d s of audio was scored; calibration needs at least 10 min[\s\S]*--force/);

    const startedAt = Date.now();
    const forced = await calibrate("--force");
    const endedAt = Date.now();
    expect(forced.code, forced.stderr).toBe(0);
    const out = forced.stdout;
    // Progress of scoring the synthetic room, on stderr as plain lines (not a terminal).
    expect(forced.stderr).toMatch(/^calibrate: danger mixed into noise at the room's level: done, 900\/900 s of audio/m);

    // The daemon went on deciding windows the whole time: telemetry every second, rising.
    const during = windowsBetween(refusedAt, endedAt);
    expect(during.length, "telemetry while calibrate ran").toBeGreaterThanOrEqual(Math.floor((endedAt - refusedAt) / 1000) - 2);
    expect(during.at(-1)! - during[0]!, `windows decided while calibrate ran (${JSON.stringify(during)})`).toBeGreaterThan(4);
    // The first telemetry after calibrate ended counts every window it could have read.
    const windowsAfter = (await waitFor(() => telemetry.find((t) => t.at > endedAt), "telemetry after calibrate", 5_000)).windows;

    // What the daemon heard: one continuous stream (no gap split it), no more windows than it had
    // decided when calibrate finished, and at least those it had when calibrate started.
    const heard = /scored (\d+\.\d) min of audio by the running daemon \(1 stream\(s\), (\d+) windows\)/.exec(out);
    expect(heard, out).not.toBeNull();
    const windows = Number(heard![2]);
    expect(windows).toBeGreaterThanOrEqual(telemetry.filter((t) => t.at <= startedAt).at(-1)!.windows);
    expect(windows).toBeLessThanOrEqual(windowsAfter);
    // minutes with one decimal: windows × the 0.5 s hop
    expect(Math.abs(Number(heard![1]) - (windows * 0.5) / 60)).toBeLessThanOrEqual(0.05 + 1e-9);

    // False alerts: the loud passage, once, under every one of the 66 settings.
    const rows = [...out.matchAll(/^(\d\.\d\d) {3}(\d\.\d\d) {2}(\d+\/\d+) +(\d+) +([\d.]+) {2}(\d+)\/(\d+) /gm)];
    expect(rows, out).toHaveLength(66);
    for (const r of rows) expect(Number(r[4]), r[0]).toBe(1);

    // Catches: the bundled passages mixed into 15 min of steady noise at the room's median level —
    // the level the daemon remembers (read here the same way, over the socket) — and said so.
    const scores = await status.scores(-Infinity);
    const roomDbfs = medianDbfs(scores.dbfs.slice(0, windows));
    expect(roomDbfs).toBeLessThan(-60); // the quiet noise, not the loud passage
    const caught = new RegExp(
      `caught: of (\\d+) danger passages \\(the bundled angry sentences, 3-9 s, seed 12\\) mixed into 15 min of steady synthetic noise at the room's median level \\(${roomDbfs.toFixed(1)} dBFS\\)`,
    ).exec(out);
    expect(caught, out).not.toBeNull();
    const passages = Number(caught![1]);
    expect(passages).toBeGreaterThanOrEqual(8);
    expect(out).toMatch(/The daemon keeps no audio, so this is not the room's own sound \(no TV, no voices under the danger\): a room with such sounds may miss more\./);
    for (const r of rows) expect(Number(r[7]), r[0]).toBe(passages);
    // Speech-level passages over quiet noise: the defaults catch them all.
    expect(out).toMatch(new RegExp(`^defaults: .*→ 1 false alert\\(s\\), [\\d.]+/h; caught ${passages}/${passages} 100%$`, "m"));

    // Numbers only: the socket serves three numbers per window, and the daemon wrote no audio.
    expect(Object.keys(scores).sort()).toEqual(["dbfs", "hopMs", "score", "tMs"]);
    for (const key of ["tMs", "score", "dbfs"] as const) expect(scores[key].every((x) => typeof x === "number" && Number.isFinite(x)), key).toBe(true);
    const files = [...(await listFiles(stateDir)), ...(await listFiles(tmp))];
    expect(files.filter((f) => /\.(wav|raw|pcm|flac|ogg)$/i.test(f.file))).toEqual([]);
    // 16 s of audio is 512 kB of PCM; nothing near that was kept.
    expect(files.every((f) => f.size < 64 * 1024), JSON.stringify(files)).toBe(true);

    // After: still protecting — alive, still deciding windows, the stream never restarted.
    await waitFor(() => windowsNow() >= windowsAfter + 4, "windows decided after calibrate", 10_000);
    expect(d.alive()).toBe(true);
    expect(d.lines.filter((l) => l.msg === "audio stream restarted: detection starts afresh")).toEqual([]);
    expect(d.lines.filter((l) => l.level >= 50), "error logs").toEqual([]);
  }, 60_000);
});
