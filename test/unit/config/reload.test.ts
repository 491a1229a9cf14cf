/**
 * The restart-only settings are marked in the schema and the reload's warning is derived from the
 * marks (issue 14, point 4; STYLE.md §16). Which settings apply on reload was read off the reload
 * code: model, detect and adaptation go into the next model handle and pipeline (daemon.ts
 * doReload/applySwap, detection-loop adopt, assemble/model createAdaptation), mqtt into a new MQTT
 * sink (outputs.ts swapMqtt), log_level at once; the microphone, GPIO, status socket and page, the
 * log format and the pid file and open-alert record are made once, at start.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { RESTART_ONLY_SETTINGS, restartOnlyChanges, restartWarning } from "../../../src/config/reload.js";
import { ConfigFileSchema, type Config } from "../../../src/config/schema.js";
import { keysAt } from "../../../src/config/schema-walk.js";

/** Top-level settings a reload applies (no restart-only mark). */
const APPLIED_ON_RELOAD = ["log_level", "model", "detect", "adaptation", "mqtt"];

function config(yaml: string): Config {
  const r = parseConfig(yaml, { env: {}, hostname: "unit" });
  if (!r.ok) throw new Error(r.issues.join("\n"));
  return r.config;
}

const BASE = "device_id: kitchen\nmqtt:\n  enabled: true\n  url: mqtt://broker:1883\n";

describe("restart-only settings", () => {
  it("are the ones the daemon reads only at start", () => {
    expect(RESTART_ONLY_SETTINGS.map((s) => s.path)).toEqual(["device_id", "state_dir", "log_format", "status_socket", "audio", "gpio", "http"]);
    for (const s of RESTART_ONLY_SETTINGS) expect(s.reason, s.path).toMatch(/\w{4,}/);
  });

  it("leave no top-level setting undecided: each is marked or listed as applied on reload", () => {
    const marked = RESTART_ONLY_SETTINGS.map((s) => s.path);
    const topLevel = keysAt(ConfigFileSchema, []);
    expect([...marked, ...APPLIED_ON_RELOAD].sort()).toEqual([...topLevel].sort());
  });

  it("a reload's warning names exactly the restart-only settings that changed, as deep as they differ", () => {
    const running = config(BASE);
    const next = config(
      BASE +
        "audio:\n  device: plughw:1,0\n" +
        "gpio:\n  led: 17\n  heartbeat: false\n" +
        "http:\n  port: 8788\n" +
        // These apply on reload: not warned about.
        "detect:\n  enter_threshold: 0.7\n  exit_threshold: 0.5\n" +
        "adaptation:\n  enabled: true\n" +
        "log_level: debug\n",
    );
    const changes = restartOnlyChanges(running, next);
    expect(changes.map((c) => c.path)).toEqual(["audio.device", "gpio.led.pin", "gpio.heartbeat", "http.port"]);
    const warning = restartWarning(changes)!;
    expect(warning).toMatch(/^changes to audio\.device, gpio\.led\.pin, gpio\.heartbeat, http\.port apply only after a restart/);
    expect(warning).toContain("the microphone is opened once, at start");
    expect(warning).not.toMatch(/detect|adaptation|log_level/);
  });

  it("says nothing for a reload of settings that apply: thresholds, adaptation, mqtt (url included), model, log level", () => {
    const running = config(BASE);
    const next = config(
      BASE.replace("mqtt://broker:1883", "mqtt://other:1883") +
        "detect:\n  enter_threshold: 0.7\n  exit_threshold: 0.5\n  k: 6\n  n: 8\n" +
        "adaptation:\n  enabled: true\n  max_weight: 0.3\n" +
        "model:\n  backend: cpu\n" +
        "log_level: warn\n",
    );
    expect(restartOnlyChanges(running, next)).toEqual([]);
    expect(restartWarning([])).toBeNull();
  });

  it("names the status socket too when it follows a moved state_dir", () => {
    const changes = restartOnlyChanges(config(BASE), config(BASE + "state_dir: /srv/earwitness\n"));
    expect(changes.map((c) => c.path)).toEqual(["state_dir", "status_socket"]);
  });

  it("are each documented as such in config/earwitness.example.yaml", async () => {
    const lines = (await readFile(fileURLToPath(new URL("../../../config/earwitness.example.yaml", import.meta.url)), "utf8")).split("\n");
    for (const { path } of RESTART_ONLY_SETTINGS) {
      const at = lines.findIndex((l) => l.startsWith(`${path}:`));
      expect(at, path).toBeGreaterThanOrEqual(0);
      // Its comment: the lines just above the key, or, for a section, just below it.
      const above: string[] = [];
      for (let i = at - 1; i >= 0 && lines[i]!.startsWith("#"); i--) above.push(lines[i]!);
      const below: string[] = [];
      for (let i = at + 1; i < lines.length && lines[i]!.trimStart().startsWith("#"); i++) below.push(lines[i]!);
      const text = [...above.reverse(), ...below].map((l) => l.replace(/^\s*#\s*/, "")).join(" ");
      expect(text, path).toMatch(/Restart to apply changes/);
    }
  });
});
