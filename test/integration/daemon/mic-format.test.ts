/**
 * Issue #11 §7: random bytes at the right byte rate (what a recorder giving the wrong sample
 * format looks like) used to pass every microphone check, and the model heard "angry" in them for
 * 52 s. The real daemon as a child process, a real broker, the fake `arecord` streaming random
 * bytes at exactly 32 000 bytes/s, and a model that calls anything loud "angry": the daemon must
 * raise `mic_format`, saying what to check, and raise no alert while it lasts.
 */
import { describe, expect, it } from "vitest";
import { sleep, waitFor } from "../mqtt/watcher.js";
import { startDaemon } from "./harness.js";
import { daemonWorld } from "../world.js";

const world = daemonWorld("earwitness-mic-format", { bundle: true });

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

describe("wrong-format audio (issue #11 §7)", () => {
  it("random bytes at the right rate raise mic_format with what to check, and no alert", async () => {
    const u = await world.unit("garbage-at-rate", {
      // Quick to alert: with this model, anything over the gate is "angry" at p ≈ 0.96.
      detect: "{ k: 2, n: 3, min_duration_s: 0, hop_s: 0.5 }",
    });
    const { configPath, tmp, topic } = u;
    const w = await world.watch(u);
    // Speed 1: exactly 32 000 bytes/s, so mic_rate has nothing to say; only the content is wrong.
    const d = startDaemon(configPath, { FAKE_ARECORD_MODE: "garbage", FAKE_ARECORD_SPEED: "1" }, tmp);
    const p = await waitFor(
      () => w.on(topic("problem")).map((m) => json(m.text)).find((x) => x.code === "mic_format" && x.active === true),
      "the mic_format problem",
      20_000,
    );
    expect(String(p.message)).toMatch(/does not look like a microphone/);
    expect(String(p.message)).toMatch(/S16_LE/);
    expect(String(p.message)).toMatch(/audio\.device/);
    await waitFor(
      () => (json(w.on(topic("state")).at(-1)?.text ?? "{}").problems as string[] | undefined)?.includes("mic_format"),
      "mic_format in the state",
    );
    // Random bytes keep coming: still no alert several seconds on, and the daemon runs on.
    await sleep(8_000);
    expect(w.on(topic("alert")).map((m) => json(m.text)).filter((a) => a.test !== true)).toEqual([]);
    expect(d.lines.filter((l) => l.msg === "ALERT: danger heard")).toEqual([]);
    expect(w.on(topic("problem")).map((m) => json(m.text)).filter((x) => x.code === "mic_format" && x.active === false)).toEqual([]);
    expect(d.alive()).toBe(true);
  }, 60_000);
});
