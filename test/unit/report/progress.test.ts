import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log.js";
import { barLine, etaMs, formatDuration, Progress, progressMode, type ProgressState } from "../../../src/report/progress.js";
import { FakeClock } from "../../fakes/fake-clock.js";
import { FakeTerminal } from "../../fakes/fake-terminal.js";

const state = (over: Partial<ProgressState>): ProgressState => ({ label: "train", done: 0, total: 10, unit: "", detail: "", elapsedMs: 0, ...over });

describe("ETA", () => {
  it("is the time so far scaled by what is left, once there is something to go on", () => {
    expect(etaMs(60_000, 0.25)).toBe(180_000);
    expect(etaMs(10_000, 0.5)).toBe(10_000);
    expect(etaMs(10_000, 1)).toBe(0);
    expect(etaMs(10_000, 0)).toBeNull();
    // the first second includes warm-up: no promise yet
    expect(etaMs(500, 0.5)).toBeNull();
  });

  it("reads as seconds, minutes and seconds, or hours and minutes", () => {
    expect(formatDuration(42_400)).toBe("42s");
    expect(formatDuration(185_000)).toBe("3m05s");
    expect(formatDuration(3_720_000)).toBe("1h02m");
  });

  it("the bar shows the share, the count, the detail and the ETA, cut to the terminal's width", () => {
    const line = barLine(state({ done: 5, total: 20, unit: "clips", detail: "loss 1.20", elapsedMs: 30_000 }), 200, 20);
    expect(line).toBe("[#####---------------]  25 %  train 5/20 clips  loss 1.20  30s elapsed, ETA 1m30s");
    expect(barLine(state({ done: 5, total: 20, elapsedMs: 30_000 }), 40).length).toBe(39);
  });
});

describe("progress mode", () => {
  it("is a bar only on a terminal, outside CI, with a log for people", () => {
    expect(progressMode(true, {}, "pretty")).toBe("bar");
    expect(progressMode(true, {}, "text")).toBe("bar");
    expect(progressMode(false, {}, "pretty")).toBe("lines");
    expect(progressMode(true, { CI: "true" }, "pretty")).toBe("lines");
    expect(progressMode(true, { CI: "false" }, "pretty")).toBe("bar");
    expect(progressMode(true, {}, "json")).toBe("lines");
  });
});

describe("progress on a terminal", () => {
  it("redraws one line in place with carriage returns, at most every redrawEveryMs, and leaves a done line", () => {
    const term = new FakeTerminal(120);
    const clock = new FakeClock();
    const p = new Progress({ stream: term.stream("stderr"), clock, mode: "bar", redrawEveryMs: 100 });
    const task = p.start("eval", 100, "clips");
    for (let i = 1; i <= 100; i++) {
      clock.advance(10);
      task.update(i);
    }
    task.finish();
    // 100 updates 10 ms apart: the first at once, then one per 100 ms (at 11, 21, … 91), and the last
    const draws = term.writes.filter((w) => w.chunk.includes("] "));
    expect(draws.length).toBe(11);
    expect(draws.slice(1).every((w) => w.chunk.startsWith("\r"))).toBe(true);
    expect(term.screen()).toEqual(["eval: done, 100/100 clips in 1s", ""]);
  });

  it("log lines written while the bar shows are whole lines above it, never mixed into it", () => {
    const term = new FakeTerminal(120);
    const clock = new FakeClock();
    const p = new Progress({ stream: term.stream("stderr"), clock, mode: "bar", redrawEveryMs: 0 });
    const log = createLogger("info", "text", {}, { hook: p, out: term.stream("stdout") });
    const task = p.start("train", 4, "epochs");
    clock.advance(3000);
    task.update(1, "loss 1.500");
    log.info({ epoch: 1 }, "epoch 1/4");
    clock.advance(3000);
    task.update(2, "loss 1.200");
    log.warn("slow batch");
    p.say("a message for people");
    // the bar is back after every line
    expect(term.screen().at(-1)).toMatch(/^\[#+-+\]\s+50 %\s+train 2\/4 epochs\s+loss 1\.200\s+6s elapsed, ETA 6s$/);
    task.update(4);
    task.finish();
    expect(term.screen()).toEqual(["INFO epoch 1/4 epoch=1", "WARN slow batch", "a message for people", "train: done, 4/4 epochs loss 1.200 in 6s", ""]);
    // each log line went out only after the bar's line had been cleared
    const i = term.writes.findIndex((w) => w.stream === "stdout");
    expect(term.writes[i - 1]!.chunk).toBe("\r\x1b[K");
  });
});

describe("progress in a log (not a terminal)", () => {
  it("writes whole lines, one per tenth of the work or per 30 s, with no carriage return", () => {
    const term = new FakeTerminal();
    const clock = new FakeClock();
    const p = new Progress({ stream: term.stream("stderr", false), clock, mode: "lines" });
    const task = p.start("features", 1000, "files");
    for (let i = 1; i <= 1000; i++) {
      clock.advance(20);
      task.update(i);
    }
    task.finish();
    const lines = term.transcript().split("\n").filter(Boolean);
    expect(term.transcript()).not.toContain("\r");
    expect(lines.length).toBe(10); // 10 %, …, 90 %, then the done line
    expect(lines[0]).toBe("features: 10 % (100/1000 files), 2s elapsed, ETA 18s");
    expect(lines.at(-1)).toBe("features: done, 1000/1000 files in 20s");
  });

  it("writes a line after lineEveryMs even when the share hardly moves", () => {
    const term = new FakeTerminal();
    const clock = new FakeClock();
    const p = new Progress({ stream: term.stream("stderr", false), clock, mode: "lines", lineEveryMs: 30_000 });
    const task = p.start("bench", 1000, "windows");
    for (let i = 1; i <= 20; i++) {
      clock.advance(10_000);
      task.update(i);
    }
    // 200 s, 2 % done: a line at 30, 60, … 180 s
    expect(term.transcript().split("\n").filter(Boolean)).toHaveLength(6);
  });

  it("a new task ends the one before it", () => {
    const term = new FakeTerminal();
    const p = new Progress({ stream: term.stream("stderr", false), clock: new FakeClock(), mode: "lines" });
    p.start("features", 10).update(3);
    p.start("eval", 5);
    expect(term.transcript()).toContain("features: done, 3/10 in 0s\n");
  });
});
