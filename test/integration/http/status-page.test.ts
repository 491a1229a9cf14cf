/**
 * The status page in a real browser (issue #13): the real daemon (`earwitness run`, the built
 * CLI) fed by the fake recorder serves the page; Debian's headless Chromium opens it, a mouse
 * click on *Test* goes through the page's script, the HTTP command endpoint and the daemon's
 * command handler, and the test alert appears in the page's table. The screenshot is saved in the
 * test's temp dir (and copied to $EARWITNESS_SCREENSHOT_OUT when set: docs/status-page.png was
 * made so).
 *
 * Without Chromium the browser test says loudly that it skipped (.ci/run installs it).
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, noise, silence, startDaemon, writeWav, type DaemonProcess } from "../daemon/harness.js";
import { findChromium, launchChromium, type Browser } from "./chromium.js";

const CHROMIUM = findChromium();
if (CHROMIUM === null) {
  console.warn(
    "\n*** SKIPPED: the status page browser test needs Chromium (apt-get install chromium, or set EARWITNESS_CHROMIUM); " +
      "the page was NOT tested in a browser ***\n",
  );
}

describe("status page (daemon + real browser)", () => {
  let root = "";
  let daemon: DaemonProcess;
  let url = "";
  let browser: Browser | null = null;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "ew-page-"));
    await mkdir(path.join(root, "tmp"), { recursive: true });
    const wav = await writeWav(path.join(root, "room.wav"), noise(3, 0.08, 7), silence(1), noise(2, 0.2, 9));
    const config = path.join(root, "config.yaml");
    await writeFile(
      config,
      [
        "device_id: page-test",
        `state_dir: ${path.join(root, "state")}`,
        "audio: { restart_backoff_min_s: 0.5, wait_for_device_s: 0 }",
        // The console indicator is the output (no broker needed); the page on any free port.
        "gpio: { driver: console }",
        "mqtt: { enabled: false }",
        "http: { port: 0 }",
        "",
      ].join("\n"),
    );
    daemon = startDaemon(config, { FAKE_ARECORD_WAV: wav }, path.join(root, "tmp"));
    const line = await daemon.waitLog((l) => l.msg === "status page listening", "the status page", 30_000);
    url = String(line.url);
    await daemon.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready", 30_000);
  }, 70_000);

  afterAll(async () => {
    await browser?.close();
    await killAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("serves /api/status and /metrics from the running daemon", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const status = (await (await fetch(`${url}api/status`)).json()) as { model: { name: string } | null; version: string; status: { ready: boolean } };
    expect(status.model?.name).toBeTruthy();
    expect(status.version).toMatch(/^\d+\.\d+\.\d+/);
    const metrics = await (await fetch(`${url}metrics`)).text();
    expect(metrics).toMatch(/^earwitness_windows_total \d+$/m);
    expect(metrics).toContain("# TYPE earwitness_real_time_factor gauge");
  });

  it.skipIf(CHROMIUM === null)("Test clicked in Chromium raises a test alert that appears on the page", async () => {
    browser = await launchChromium(CHROMIUM!, path.join(root, "chromium"));
    const page = await browser.open(url, { width: 1100, height: 640 });
    // Live data arrived: the model's probabilities and the version line are drawn.
    await page.waitFor("document.querySelector('#conn').textContent.startsWith('live')", "the first status");
    await page.waitFor("document.querySelectorAll('#probs .row').length > 0", "the emotion probabilities", 20_000);
    const versions = await page.evaluate<string>("document.querySelector('#versions').textContent");
    expect(versions).toMatch(/^earwitness \d+\.\d+\.\d+.* · model \S+ \S+ \([0-9a-f]{12}\)$/);
    expect(await page.evaluate<number>("document.querySelectorAll('#alerts tr[data-alert-id]').length")).toBe(0);

    await page.click("#btn-test");

    await page.waitFor("document.querySelector('#result').textContent === 'test: done'", "the command's answer");
    const row = await page.waitFor<string>(
      "(() => { const r = document.querySelector('#alerts tr[data-alert-id]'); return r && r.textContent.includes('test (test)') ? r.dataset.alertId : null; })()",
      "the test alert in the table",
    );
    // The daemon raised it (its log names the same id), through its one command handler.
    await daemon.waitLog((l) => l.msg === "command from the status page applied", "the command in the daemon's log");
    await daemon.waitLog((l) => l.msg === "test alert" && l.alertId === row, "the daemon's test alert with the page's id");
    // A test alert lasts 3 s; its row then shows its duration.
    await page.waitFor("document.querySelector('#alerts tr[data-alert-id]').textContent.includes('test_over')", "the test alert's end", 10_000);
    const metrics = await (await fetch(`${url}metrics`)).text();
    expect(metrics).toContain('earwitness_alerts_total{test="true"} 1');

    const png = await page.screenshot();
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    const shot = path.join(root, "status-page.png");
    await writeFile(shot, png);
    const out = process.env.EARWITNESS_SCREENSHOT_OUT;
    if (out) await copyFile(shot, out);
  }, 90_000);
});
