import { mkdtemp, rm, writeFile, mkdir, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { checkConfigFile, loadConfig, mqttPassword, parseConfig, readPasswordFile } from "../../../src/config/load.js";
import { detectParamsFromConfig, screamBranchFromConfig } from "../../../src/config/detect-params.js";
import { AnyBranchDetector } from "../../../src/detect/any-branch.js";
import type { Config } from "../../../src/config/schema.js";
import { AlertStateMachine } from "../../../src/detect/state-machine.js";

const HOST = "kitchen-pi";

function parseOk(text: string | null, env: NodeJS.ProcessEnv = {}): Config {
  const r = parseConfig(text, { env, hostname: HOST, sourceName: "test.yaml" });
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.issues.join("\n")}`);
  return r.config;
}

function issuesOf(text: string | null, env: NodeJS.ProcessEnv = {}): string[] {
  const r = parseConfig(text, { env, hostname: HOST, sourceName: "test.yaml" });
  if (r.ok) throw new Error("expected issues, got a valid config");
  return r.issues;
}

describe("parseConfig defaults", () => {
  it("gives a complete config from no file, and the same from an empty one", () => {
    const c = parseOk(null);
    expect(c.device_id).toBe(HOST);
    expect(c.state_dir).toBe("/var/lib/earwitness");
    expect(c.status_socket).toBe("/var/lib/earwitness/status.sock");
    expect(c.log_level).toBe("info");
    expect(c.audio).toMatchObject({ source: "arecord", device: "default", restart_backoff_min_s: 1, restart_backoff_max_s: 60 });
    expect(c.model).toEqual({ dir: null, backend: "auto" });
    expect(c.detect).toMatchObject({ hop_s: 0.5, danger: { labels: ["angry", "fear"], weights: {} }, smoothing: { method: "ema", windows: 6 }, enter_threshold: 0.75, exit_threshold: 0.55, k: 2, n: 3, min_duration_s: 1 });
    expect(c.detect.screams).toMatchObject({ enabled: true, model_dir: null, gate_speech: true, smoothing: { method: "mean", windows: 4 }, enter_threshold: 0.9, exit_threshold: 0.7, k: 2, n: 3, min_duration_s: 1 });
    expect(c.gpio.led).toEqual({ pin: null, active_low: false });
    expect(c.gpio.buzzer_pattern_ms).toEqual([500, 500]);
    expect(c.mqtt).toMatchObject({
      enabled: false,
      url: null,
      client_id: "earwitness-kitchen-pi",
      base_topic: null,
      topic_root: "earwitness/kitchen-pi",
      password: null,
      discovery: { enabled: true, prefix: "homeassistant" },
      tls: { reject_unauthorized: true },
    });
    expect(parseOk("")).toEqual(c);
    expect(parseOk("# only a comment\n")).toEqual(c);
  });

  it("treats a section whose keys are all commented out as all defaults", () => {
    expect(parseOk("detect:\n  # enter_threshold: 0.7\nmqtt:\n")).toEqual(parseOk(null));
  });

  it("makes a device id from an awkward hostname", () => {
    const r = parseConfig(null, { env: {}, hostname: "my pi/2", sourceName: "x" });
    expect(r.ok && r.config.device_id).toBe("my-pi-2");
  });

  it("accepts GPIO lines as a number, null, or a mapping with a BCM or chip/line pin", () => {
    const c = parseOk(
      ["gpio:", "  led: 17", "  buzzer: { pin: { chip: gpiochip0, line: 18 }, active_low: true }", "  button: null"].join("\n"),
    );
    expect(c.gpio.led).toEqual({ pin: 17, active_low: false });
    expect(c.gpio.buzzer).toEqual({ pin: { chip: "gpiochip0", line: 18 }, active_low: true });
    expect(c.gpio.button).toEqual({ pin: null, active_low: false });
  });

  it("derives detector parameters in milliseconds that the state machine accepts", () => {
    const c = parseOk("detect:\n  hold_s: 1.5\n  danger:\n    weights: { angry: 0.5 }\n  smoothing: { method: ema, windows: 4 }\n");
    const p = detectParamsFromConfig(c.detect);
    expect(p).toMatchObject({
      hopMs: 500,
      holdMs: 1500,
      cooldownMs: 10_000,
      maxAlertMs: 120_000,
      minDurationMs: 1000,
      k: 2,
      n: 3,
      dangerWeights: { angry: 0.5, fear: 1, scream: 1 },
      smoothing: { method: "ema", windows: 4 },
    });
    expect(() => new AlertStateMachine(p)).not.toThrow();
    expect(detectParamsFromConfig(parseOk(null).detect).smoothing).toEqual({ method: "ema", windows: 6 });
  });

  it("has a scream branch unless detect.screams.enabled is false; its danger is the scream class alone", () => {
    expect(parseOk(null).detect.screams.model_dir).toBeNull();
    expect(screamBranchFromConfig(parseOk("detect:\n  screams:\n    enabled: false\n").detect)).toBeNull();
    expect(screamBranchFromConfig(parseOk("detect:\n  screams:\n    model_dir: /opt/home\n    enabled: false\n").detect)).toBeNull();
    const c = parseOk("detect:\n  hold_s: 1.5\n  cooldown_s: 20\n  screams:\n    enabled: true\n    model_dir: /opt/home\n    k: 3\n    n: 4\n    smoothing: { method: ema, windows: 2 }\n");
    const b = screamBranchFromConfig(c.detect);
    expect(b).toEqual({
      name: "screams",
      smoothing: { method: "ema", windows: 2 },
      alert: {
        dangerWeights: { scream: 1 },
        enterThreshold: 0.9,
        exitThreshold: 0.7,
        k: 3,
        n: 4,
        minDurationMs: 1000,
        holdMs: 1500,
        cooldownMs: 20_000,
        maxAlertMs: 120_000,
      },
    });
    // the union detector accepts the two branches the config derives
    const speech = detectParamsFromConfig(c.detect);
    expect(() => new AnyBranchDetector([{ name: "speech", alert: speech, smoothing: speech.smoothing }, b!], speech)).not.toThrow();
  });
});

describe("parseConfig errors", () => {
  it("rejects an unknown key at the top level, with a suggestion", () => {
    expect(issuesOf("devise_id: x\n")).toEqual(['unknown key "devise_id" (did you mean "device_id"?)']);
  });

  it("rejects an unknown nested key, with a suggestion or the valid keys", () => {
    expect(issuesOf("detect:\n  treshold: 0.5\n")).toEqual(['unknown key "detect.treshold" (did you mean "enter_threshold" or "exit_threshold"?)']);
    const [issue] = issuesOf("mqtt:\n  tls:\n    zzz: 1\n");
    expect(issue).toBe('unknown key "mqtt.tls.zzz" (valid here: ca, cert, key, reject_unauthorized)');
  });

  it("names the path, the rule and the value for wrong types and out-of-range values", () => {
    expect(issuesOf("detect:\n  enter_threshold: 1.4\n")).toEqual(["detect.enter_threshold must be < 1 (got 1.4)"]);
    expect(issuesOf("detect:\n  k: three\n")).toEqual(['detect.k must be a number (got "three")']);
    expect(issuesOf("detect:\n  n: 2.5\n")).toEqual(["detect.n must be a whole number (got 2.5)"]);
    expect(issuesOf("audio:\n  source: pulse\n")).toEqual(['audio.source must be one of arecord, sox (got "pulse")']);
    expect(issuesOf("mqtt: 5\n")).toEqual(["mqtt must be a mapping (got 5)"]);
    expect(issuesOf("detect:\n  danger:\n    labels: [angry, anger]\n")).toEqual([
      'detect.danger.labels[1] must be one of angry, disgust, fear, happy, neutral, sad, boredom, calm, surprised, scream, sound, danger, safe (got "anger")',
    ]);
    expect(issuesOf("detect:\n  danger:\n    labels: []\n")).toEqual(["detect.danger.labels must have at least 1 item (got 0)"]);
    expect(issuesOf("state_dir: var/lib\n")).toEqual(['state_dir must be an absolute path (got "var/lib")']);
    expect(issuesOf("mqtt:\n  url: http://broker\n")[0]).toMatch(/^mqtt\.url must be a mqtt:\/\/ or mqtts:\/\/ URL .*\(got "http:\/\/broker"\)$/);
    expect(issuesOf("gpio:\n  led: 40\n")).toEqual(["gpio.led must be <= 27 (got 40)"]);
    expect(issuesOf("gpio:\n  led: { pin: { chip: gpiochip0 } }\n")).toEqual(["gpio.led.pin.line is required"]);
    expect(issuesOf('gpio:\n  led: "17"\n')[0]).toMatch(/^gpio\.led must be a BCM pin number .*\(got "17"\)$/);
    expect(issuesOf("gpio:\n  buzzer_pattern_ms: [500]\n")).toEqual(["gpio.buzzer_pattern_ms must have at least 2 items (got 1)"]);
    expect(issuesOf("- a\n- b\n")).toEqual(["test.yaml must hold a mapping of settings at the top level (got a list)"]);
  });

  it("checks fields against each other", () => {
    expect(issuesOf("detect:\n  enter_threshold: 0.4\n  exit_threshold: 0.5\n")).toEqual([
      "detect.enter_threshold (0.4) must be greater than detect.exit_threshold (0.5), or alerts flicker on and off",
    ]);
    expect(issuesOf("detect:\n  enter_threshold: 0.5\n  exit_threshold: 0.5\n")).toHaveLength(1);
    expect(issuesOf("detect:\n  k: 4\n")).toEqual(["detect.k (4) must be <= detect.n (3)"]);
    expect(issuesOf("detect:\n  screams:\n    enter_threshold: 0.4\n")).toEqual([
      "detect.screams.enter_threshold (0.4) must be greater than detect.screams.exit_threshold (0.7), or alerts flicker on and off",
    ]);
    expect(issuesOf("detect:\n  screams:\n    k: 4\n")).toEqual(["detect.screams.k (4) must be <= detect.screams.n (3)"]);
    expect(issuesOf("detect:\n  screams:\n    model_dir: models/home\n")).toEqual(["detect.screams.model_dir must be an absolute path (got \"models/home\")"]);
    expect(issuesOf("detect:\n  screams:\n    hold_s: 3\n")[0]).toMatch(/^unknown key "detect\.screams\.hold_s"/);
    expect(issuesOf("audio:\n  restart_backoff_min_s: 90\n")).toEqual([
      "audio.restart_backoff_min_s (90) must be <= audio.restart_backoff_max_s (60)",
    ]);
    expect(issuesOf("mqtt:\n  url: mqtt://broker\n  tls: { ca: /etc/ca.pem }\n")).toEqual([
      "mqtt.tls.ca is set but mqtt.url is not mqtts:// (TLS files are only used with mqtts://)",
    ]);
    expect(issuesOf("mqtt:\n  url: mqtts://broker\n  tls: { cert: /etc/c.pem }\n")).toEqual([
      "mqtt.tls.cert and mqtt.tls.key go together: set both or neither",
    ]);
    expect(issuesOf("mqtt:\n  enabled: true\n")).toEqual(["mqtt.url is required when mqtt.enabled is true"]);
    expect(issuesOf("gpio:\n  driver: none\n  buzzer: 18\n")).toEqual([
      'gpio.buzzer is wired but gpio.driver is "none"; set gpio.driver: onoff, or gpio.buzzer: null',
    ]);
    expect(issuesOf("gpio:\n  led: 17\n  button: { pin: 17, active_low: true }\n")).toEqual(["gpio.button.pin 17 is also gpio.led.pin"]);
    expect(issuesOf("detect:\n  danger:\n    weights: { happy: 0.5 }\n")).toEqual([
      'detect.danger.weights.happy has no effect: "happy" is not in detect.danger.labels',
    ]);
    expect(issuesOf(`state_dir: /${"x".repeat(120)}\n`)[0]).toMatch(/^state_dir gives a status socket path of \d+ bytes/);
    expect(mqttOk("mqtts://broker:8883", "tls: { ca: /etc/ca.pem, cert: /etc/c.pem, key: /etc/k.pem }")).toBe(true);
  });

  it("lists every problem at once, across sections, with cross-field checks among them", () => {
    const issues = issuesOf(
      [
        "bogus: 1",
        "log_level: loud",
        "audio:",
        "  restart_backoff_min_s: 90",
        "  stall_timeout_s: -1",
        "detect:",
        "  enter_threshold: 0.3",
        "  exit_threshold: 0.4",
        "  k: x",
        "mqtt:",
        "  enabled: true",
        "  keepalive_s: 1",
      ].join("\n"),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^unknown key "bogus"/),
        expect.stringMatching(/^log_level must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)$/),
        "audio.stall_timeout_s must be >= 1 (got -1)",
        "audio.restart_backoff_min_s (90) must be <= audio.restart_backoff_max_s (60)",
        expect.stringMatching(/^detect\.enter_threshold \(0\.3\) must be greater than detect\.exit_threshold \(0\.4\)/),
        'detect.k must be a number (got "x")',
        "mqtt.url is required when mqtt.enabled is true",
        "mqtt.keepalive_s must be >= 5 (got 1)",
      ]),
    );
    expect(issues).toHaveLength(8);
  });

  it("reports YAML syntax errors with line and column", () => {
    expect(issuesOf("detect:\n  k: 3\n  n: [1, 2\n")).toEqual([
      expect.stringMatching(/^test\.yaml line 4, column 1: .*Flow sequence/),
    ]);
    const [dup] = issuesOf("detect:\n  k: 3\n  k: 4\n");
    expect(dup).toBe("test.yaml line 3, column 3: Map keys must be unique");
    expect(issuesOf("detect:\n\tk: 3\n")[0]).toMatch(/^test\.yaml line 2, column 1: Tabs are not allowed/);
  });
});

function mqttOk(url: string, extra: string): boolean {
  return parseConfig(`mqtt:\n  url: ${url}\n  ${extra}\n`, { env: {}, hostname: HOST }).ok;
}

describe("environment overrides", () => {
  it("override the file", () => {
    const c = parseOk("device_id: from-file\nlog_level: warn\nmqtt:\n  url: mqtt://file:1883\n", {
      EARWITNESS_DEVICE_ID: "from-env",
      EARWITNESS_MQTT_URL: "mqtts://env:8883",
      EARWITNESS_MQTT_USERNAME: "wearer",
      EARWITNESS_MQTT_PASSWORD: "s3cret",
      EARWITNESS_LOG_LEVEL: "debug",
      EARWITNESS_UNRELATED: "ignored",
    });
    expect(c.device_id).toBe("from-env");
    expect(c.log_level).toBe("debug");
    expect(c.mqtt).toMatchObject({ url: "mqtts://env:8883", username: "wearer", password: "s3cret", topic_root: "earwitness/from-env" });
  });

  it("refuse a password in mqtt.url without repeating it, from the file or the environment", () => {
    const fromFile = issuesOf("mqtt:\n  url: mqtt://earwitness:s3cret@broker:1883\n");
    expect(fromFile).toHaveLength(1);
    expect(fromFile[0]).toMatch(/^mqtt\.url must not contain a user name or password .*password_file.*LoadCredential/);
    expect(fromFile[0]).toContain("mqtt://***@broker:1883");
    const fromEnv = issuesOf(null, { EARWITNESS_MQTT_URL: "mqtts://u:s3cret@broker" });
    expect(fromEnv).toHaveLength(1);
    expect(fromEnv[0]).toMatch(/from EARWITNESS_MQTT_URL/);
    for (const issue of [...fromFile, ...fromEnv]) expect(issue).not.toContain("s3cret");
    expect(parseOk("mqtt:\n  url: mqtt://broker:1883\n").mqtt.url).toBe("mqtt://broker:1883");
  });

  it("are ignored when empty", () => {
    expect(parseOk("log_level: warn\n", { EARWITNESS_LOG_LEVEL: "" }).log_level).toBe("warn");
  });

  it("name the variable when their value is invalid", () => {
    expect(issuesOf(null, { EARWITNESS_LOG_LEVEL: "loud", EARWITNESS_MQTT_URL: "broker" })).toEqual([
      'log_level must be one of fatal, error, warn, info, debug, trace, silent (got "loud", from EARWITNESS_LOG_LEVEL)',
      expect.stringMatching(/^mqtt\.url must be a mqtt:\/\/ .*\(got "broker", from EARWITNESS_MQTT_URL\)$/),
    ]);
    expect(issuesOf(null, { EARWITNESS_MQTT_PASSWORD: "x" })).toEqual([
      "EARWITNESS_MQTT_PASSWORD is set but mqtt.username is not; set mqtt.username or EARWITNESS_MQTT_USERNAME",
    ]);
  });

  it("lose to command-line overrides", () => {
    const r = parseConfig("log_level: warn\n", {
      env: { EARWITNESS_LOG_LEVEL: "debug" },
      hostname: HOST,
      overrides: { log_level: "trace", detect: { k: 2 } },
    });
    expect(r.ok && [r.config.log_level, r.config.detect.k, r.config.detect.n]).toEqual(["trace", 2, 3]);
    const bad = parseConfig(null, { env: {}, hostname: HOST, overrides: { detect: { k: 0 } } });
    expect(!bad.ok && bad.issues).toEqual(["detect.k must be >= 1 (got 0, from the command line)"]);
  });
});

describe("loadConfig and friends (temp files)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "earwitness-config-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads an explicit file", async () => {
    const path = join(dir, "c.yaml");
    await writeFile(path, "device_id: hall\ndetect:\n  cooldown_s: 45\n");
    const c = await loadConfig({ path, env: {}, hostname: HOST });
    expect(c.device_id).toBe("hall");
    expect(c.detect.cooldown_s).toBe(45);
  });

  it("uses the default file when it exists, else the defaults", async () => {
    const defaultPath = join(dir, "config.yaml");
    expect((await loadConfig({ env: {}, hostname: HOST, defaultPath, machineId: null })).device_id).toBe(HOST);
    await writeFile(defaultPath, "device_id: from-default-file\n");
    expect((await loadConfig({ env: {}, hostname: HOST, defaultPath })).device_id).toBe("from-default-file");
  });

  it("names a missing explicit file", async () => {
    const path = join(dir, "missing.yaml");
    const err = await loadConfig({ path, env: {}, hostname: HOST }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("INVALID_CONFIG");
    expect((err as ConfigError).issues).toEqual([expect.stringContaining(`config file ${path} does not exist`)]);
    expect((err as ConfigError).cause).toMatchObject({ code: "ENOENT" });
  });

  it("names a directory given as the file", async () => {
    const err = (await loadConfig({ path: dir, env: {}, hostname: HOST }).catch((e: unknown) => e)) as ConfigError;
    expect(err.issues).toEqual([`config file ${dir} is a directory, not a file`]);
  });

  it("throws one ConfigError carrying every issue, and a message that lists them", async () => {
    const path = join(dir, "bad.yaml");
    await writeFile(path, "detect:\n  enter_threshold: 1.4\n  treshold: 1\n");
    const err = (await loadConfig({ path, env: {}, hostname: HOST }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe("INVALID_CONFIG");
    expect(err.issues).toHaveLength(2);
    for (const issue of err.issues) expect(err.message).toContain(issue);
    expect(err.message).toContain(path);
    const yamlPath = join(dir, "syntax.yaml");
    await writeFile(yamlPath, "a: [1\n");
    const yamlErr = (await loadConfig({ path: yamlPath, env: {}, hostname: HOST }).catch((e: unknown) => e)) as ConfigError;
    expect(yamlErr.issues[0]).toMatch(new RegExp(`^${yamlPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} line 2, column 1: `));
  });

  it("reads password files, less one trailing newline, and refuses empty or missing ones", async () => {
    const path = join(dir, "pw");
    await writeFile(path, "p4ss word \n");
    expect(await readPasswordFile(path)).toBe("p4ss word ");
    await writeFile(path, "\n");
    await expect(readPasswordFile(path)).rejects.toMatchObject({ code: "PASSWORD_FILE_EMPTY" });
    await expect(readPasswordFile(join(dir, "nope"))).rejects.toMatchObject({ code: "PASSWORD_FILE_UNREADABLE" });
    await writeFile(path, "fromfile\n");
    expect(await mqttPassword({ password: null, password_file: path })).toBe("fromfile");
    expect(await mqttPassword({ password: "fromenv", password_file: path })).toBe("fromenv");
    expect(await mqttPassword({ password: null, password_file: null })).toBeNull();
  });

  it("checkConfigFile reports config issues and unreadable referenced files", async () => {
    const good = join(dir, "good.yaml");
    await writeFile(good, "device_id: ok\ngpio: { led: 17 }\n");
    const ok = await checkConfigFile(good, { hostname: HOST });
    expect(ok.ok && ok.config.device_id).toBe("ok");

    // Valid, but it tells no one: a check fails it, as `run` refuses it.
    const silent = join(dir, "silent.yaml");
    await writeFile(silent, "device_id: ok\n");
    const s = await checkConfigFile(silent, { hostname: HOST });
    expect(s.ok).toBe(false);
    expect(!s.ok && s.issues).toEqual([expect.stringMatching(/^no output configured: set gpio\.\* or mqtt\.\*/)]);

    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "detect:\n  k: 12\n");
    expect(await checkConfigFile(bad)).toEqual({ ok: false, issues: ["detect.k (12) must be <= detect.n (3)"] });

    await mkdir(join(dir, "tls"));
    const refs = join(dir, "refs.yaml");
    await writeFile(
      refs,
      [
        "mqtt:",
        "  enabled: true",
        "  url: mqtts://broker:8883",
        "  username: u",
        `  password_file: ${join(dir, "missing-pw")}`,
        `  tls: { ca: ${join(dir, "tls", "ca.pem")} }`,
      ].join("\n"),
    );
    const r = await checkConfigFile(refs, { hostname: HOST });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues).toEqual([
      expect.stringMatching(/^cannot read mqtt\.password_file .*missing-pw/),
      expect.stringMatching(/^mqtt\.tls\.ca .*ca\.pem cannot be read \(ENOENT\)$/),
    ]);

    expect(await checkConfigFile(join(dir, "absent.yaml"))).toEqual({ ok: false, issues: [expect.stringContaining("does not exist")] });
  });

  it("refuses a default file that exists but cannot be read, instead of running on defaults", async () => {
    if (process.getuid?.() === 0) return; // root reads anything; the rule cannot be observed
    const defaultPath = join(dir, "config.yaml");
    await writeFile(defaultPath, "device_id: x\n");
    await chmod(defaultPath, 0o000);
    await expect(loadConfig({ env: {}, hostname: HOST, defaultPath })).rejects.toMatchObject({
      code: "INVALID_CONFIG",
      issues: [expect.stringContaining("not readable")],
    });
  });
});

describe("permission errors say what to do", () => {
  it("config file and status socket: run with sudo or join group earwitness", async () => {
    const { configReadIssue, PERMISSION_HINT } = await import("../../../src/config/load.js");
    const { explainConnectError } = await import("../../../src/cli/monitor-command.js");
    const denied = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    expect(PERMISSION_HINT).toMatch(/^run with sudo or join group earwitness/);
    expect(configReadIssue("/etc/earwitness/config.yaml", denied)).toMatch(/permission denied\): run with sudo or join group earwitness/);
    expect(explainConnectError("/var/lib/earwitness/status.sock", denied)).toMatch(/run with sudo or join group earwitness/);
  });
});
