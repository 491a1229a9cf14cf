/**
 * Issue 14, point 4: what a SIGHUP does to the MQTT connection of the real daemon (the built CLI,
 * a real broker). Thresholds travel with each alert, so a reload that changes only a threshold
 * keeps the one connection — no "offline", no second "connected" — and the next alert carries the
 * new thresholds; a reload that changes an MQTT setting replaces the connection (which is how
 * mqtt.* applies without a restart).
 *
 * Connections are counted from the sink's own log line ("connected to MQTT broker", one per
 * CONNACK) and from the retained availability topic, where a replaced sink says "offline".
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StatusClient } from "../../../src/status/client.js";
import { sleep, waitFor } from "../mqtt/watcher.js";
import { configYaml, noise, startDaemon, waitForStatusSocket, writeWav, type LogLine } from "./harness.js";
import { daemonWorld } from "../world.js";

const world = daemonWorld("earwitness-reload-mqtt", { bundle: true });
let status: StatusClient | null = null;
afterEach(() => {
  status?.close();
  status = null;
});

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const RELOADED = "configuration and model reloaded; they apply from the next window";

describe("SIGHUP and the MQTT connection (integration)", () => {
  it("a threshold-only reload keeps the connection and the next alert carries the new thresholds; an MQTT setting reconnects", async () => {
    const s = await world.unit("reload-mqtt");
    const w = await world.watch(s);
    // Quiet room noise, looped by the fake recorder: windows keep being decided, no alert of its own.
    const wav = await writeWav(path.join(s.dir, "quiet.wav"), noise(10, 0.0005, 4));
    const yaml = (detect?: string, mqttExtra = ""): string => {
      const text = configYaml({ deviceId: s.deviceId, stateDir: s.stateDir, modelDir: world.bundleDir, brokerUrl: world.broker.url, ...(detect ? { detect } : {}) });
      return text.replace("discovery: { enabled: false } }", `discovery: { enabled: false }${mqttExtra} }`);
    };
    await writeFile(s.configPath, yaml());
    const d = startDaemon(s.configPath, { FAKE_ARECORD_WAV: wav }, s.tmp);
    await d.waitLog((l) => l.msg === "ready: model loaded and audio flowing", "ready");
    await waitFor(() => w.on(s.topic("availability")).some((m) => m.text === "online"), "online");
    status = await waitForStatusSocket(path.join(s.stateDir, "status.sock"));
    let windows = 0;
    status.onMessage((m) => {
      if (m.type === "telemetry") windows = m.windows_decided;
    });

    const connects = (): LogLine[] => d.lines.filter((l) => l.msg === "connected to MQTT broker");
    const availability = (): string[] => w.on(s.topic("availability")).map((m) => m.text);
    const testStarts = (): Record<string, unknown>[] => w.on(s.topic("alert")).map((m) => json(m.text)).filter((a) => a.event_type === "test_start");
    /** A test alert through the running daemon (the `test` command on MQTT): its start as published. */
    const testAlertStart = async (id: string): Promise<Record<string, unknown>> => {
      const before = testStarts().length;
      await w.client.publishAsync(s.topic("set"), JSON.stringify({ command: "test", id }), { qos: 1 });
      return waitFor(() => testStarts()[before], `the test alert ${id}`);
    };
    /** The reload is applied between windows: wait until a few more were decided. */
    const reload = async (text: string): Promise<void> => {
      await writeFile(s.configPath, text);
      const before = d.lines.length;
      d.child.kill("SIGHUP");
      await d.waitLog((l) => d.lines.indexOf(l) >= before && l.msg === RELOADED, "the reload");
      const at = windows;
      await waitFor(() => windows >= at + 3, "windows decided after the reload");
    };

    const first = await testAlertStart("before");
    expect(first.thresholds).toMatchObject({ enter_threshold: 0.75, exit_threshold: 0.55 });
    expect(connects()).toHaveLength(1);

    // Only thresholds change: the same connection carries on.
    await reload(yaml("{ enter_threshold: 0.7, exit_threshold: 0.5, k: 6, n: 10 }"));
    const second = await testAlertStart("after-thresholds");
    expect(second.thresholds).toMatchObject({ enter_threshold: 0.7, exit_threshold: 0.5, k: 6, n: 10 });
    await sleep(500);
    expect(connects(), "connections after a threshold-only reload").toHaveLength(1);
    expect(availability()).not.toContain("offline");
    expect(d.lines.filter((l) => /apply only after a restart/.test(l.msg))).toEqual([]);

    // An MQTT setting changes: the sink is replaced (offline, then a new connection), and goes on.
    await reload(yaml("{ enter_threshold: 0.7, exit_threshold: 0.5, k: 6, n: 10 }", ", keepalive_s: 20"));
    await waitFor(() => connects().length === 2, "the new connection");
    await waitFor(() => availability().at(-1) === "online" && availability().includes("offline"), "offline, then online again");
    const third = await testAlertStart("after-mqtt");
    expect(third.thresholds).toMatchObject({ enter_threshold: 0.7, k: 6 });
    expect(d.alive()).toBe(true);
  }, 90_000);
});
