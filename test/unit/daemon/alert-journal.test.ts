import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileAlertJournal, OPEN_ALERT_FILE } from "../../../src/daemon/alert-journal.js";
import type { AlertEvent } from "../../../src/outputs/sink.js";
import { captureLogger } from "../../fakes/capture-logger.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start: AlertEvent = {
  phase: "start",
  alertId: "a1",
  startedAtMs: 1_700_000_000_000,
  peak: 0.9,
  mean: 0.8,
  emotion: "angry",
  probs: { angry: 0.9 },
  dbfs: -20,
  test: false,
  thresholds: { enter_threshold: 0.55, exit_threshold: 0.35, k: 8, n: 10 },
};

describe("the open-alert journal", () => {
  it("gives back the open alert's start, thresholds included, and nothing once it ended", async () => {
    const journal = fileAlertJournal(dir, captureLogger().log);
    await journal.record(start);
    expect(await fileAlertJournal(dir, captureLogger().log).recover()).toEqual(start);
    await journal.record(null);
    expect(await journal.recover()).toBeNull();
  });

  it("recovers a record written before alerts carried thresholds with none, rather than today's", async () => {
    const { thresholds: _, ...before } = start;
    await writeFile(path.join(dir, OPEN_ALERT_FILE), JSON.stringify(before));
    expect(await fileAlertJournal(dir, captureLogger().log).recover()).toEqual({ ...start, thresholds: {} });
  });

  it("ignores and removes a damaged record", async () => {
    const file = path.join(dir, OPEN_ALERT_FILE);
    await writeFile(file, "{not json");
    const log = captureLogger();
    expect(await fileAlertJournal(dir, log.log).recover()).toBeNull();
    expect(log.warnings(/damaged/)).toHaveLength(1);
    expect(existsSync(file)).toBe(false);
  });
});
