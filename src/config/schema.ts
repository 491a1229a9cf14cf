/**
 * The daemon's whole configuration: one zod schema gives both the TypeScript type and the
 * validation (STYLE.md §3). Every object is `.strict()`, so a misspelt key is an error, not a
 * silently ignored setting. Each default is written once, here, next to its field; the example
 * file config/earwitness.example.yaml repeats them for readers and a test keeps the two equal.
 *
 * Detection defaults are PROVISIONAL: chosen by reasoning, not yet by measurement. The lead tunes
 * them from the evaluation runs; change them here and in the example file only.
 */
import { isAbsolute, join } from "node:path";
import * as z from "zod";
import { DEFAULT_DANGER_LABELS, DEFAULT_STATE_DIR, OUTBOX_MIN_BYTES } from "../constants.js";
import { ALWAYS_DANGER } from "../detect/danger.js";
import { OUTPUT_LABELS } from "../label-map.js";
import { machineSuffix } from "./machine.js";

/**
 * Refinements run even when sibling fields failed, so every problem is reported at once. zod then
 * also calls them with whatever the input was (even null or a number), so each cross-field check
 * is wrapped by `crossCheck`, which skips non-mappings, and checks every field's type it reads.
 */
const ALWAYS = { when: () => true } as const;

function crossCheck<T>(check: (value: T, ctx: z.RefinementCtx) => void): (value: T, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    if (obj(value)) check(value, ctx);
  };
}

/** Marks a cross-field message: it names its fields itself and gets no "(got …)" suffix. */
const CROSS = { cross: true } as const;

/**
 * Settings the daemon reads once, at start (zigbee2mqtt's `requiresRestart`, STYLE.md §16): a
 * SIGHUP reload keeps the old value until a restart and says so, with the reason given here
 * (config/reload.ts derives the warning from these marks, never from a list of its own). A mark
 * covers everything under it. Every setting without one applies on reload: model, detect and
 * adaptation from the next window (a new model handle and pipeline), mqtt by replacing the MQTT
 * client (daemon/outputs.ts swapMqtt), log_level at once.
 */
export const RESTART_ONLY = z.registry<{ reason: string }>();

/** Linux limits a unix socket path (sun_path) to 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === "string";
const obj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const absolutePath = z.string().min(1).refine((p) => isAbsolute(p), { message: "must be an absolute path" });

/** Topic-safe, Home-Assistant-id-safe device names. */
// No "." : the id is also a Home Assistant object id and unique-id part ([A-Za-z0-9_-] only).
const DEVICE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export const LOG_FORMATS = ["text", "json"] as const;

// ─── audio ──────────────────────────────────────────────────────────────────────────────────────

export const AudioSchema = z
  .object({
    /** Capture program: arecord (alsa-utils) or sox, writing raw 16-bit PCM to stdout (src/audio/microphone.ts). */
    source: z.enum(["arecord", "sox"]).default("arecord"),
    /** ALSA device name, e.g. "default", "plughw:1,0". */
    device: z.string().min(1).default("default"),
    /** No audio bytes for this long means the capture process stalled: restart it. */
    stall_timeout_s: z.number().min(1).max(300).default(5),
    /** Restarts of the capture process back off exponentially between these bounds. */
    restart_backoff_min_s: z.number().min(0.1).max(3600).default(1),
    restart_backoff_max_s: z.number().min(0.1).max(3600).default(60),
    /**
     * Below this level for `silent_for_s` the microphone is reported dead. A working microphone's
     * noise floor in a quiet room is well above -85 dBFS; a dead or muted one gives digital zeros.
     */
    silence_dbfs: z.number().min(-200).max(0).default(-85),
    silent_for_s: z.number().min(1).max(86_400).default(120),
    /** Clipping continuously for this long is reported (gain too high: the model hears distortion). */
    clip_for_s: z.number().min(1).max(86_400).default(10),
    /** At start-up, wait this long for the device to appear (USB microphones enumerate late). 0 = don't wait. */
    wait_for_device_s: z.number().min(0).max(3600).default(60),
  })
  .strict()
  .superRefine(crossCheck((a, ctx) => {
    if (num(a.restart_backoff_min_s) && num(a.restart_backoff_max_s) && a.restart_backoff_min_s > a.restart_backoff_max_s) {
      ctx.addIssue({
        code: "custom",
        path: ["restart_backoff_min_s"],
        message: `audio.restart_backoff_min_s (${a.restart_backoff_min_s}) must be <= audio.restart_backoff_max_s (${a.restart_backoff_max_s})`,
        params: CROSS,
      });
    }
  }), ALWAYS);

// ─── model ──────────────────────────────────────────────────────────────────────────────────────

export const ModelSchema = z
  .object({
    /** A model bundle directory; null = the installed current version, else the shipped one (assemble/model.ts modelCandidates). */
    dir: absolutePath.nullable().default(null),
    /** tfjs backend, for bundles the lean engine cannot run (CNNs); auto picks node (tfjs-node) if installed, else wasm, else cpu. Recurrent and lr bundles never load tfjs. */
    backend: z.enum(["auto", "wasm", "cpu", "node"]).default("auto"),
  })
  .strict();

// ─── detect ─────────────────────────────────────────────────────────────────────────────────────

const unitInterval = z.number().gt(0).lt(1);

function smoothingSchema(method: "none" | "ema" | "mean", windows: number) {
  return z
    .object({
      method: z.enum(["none", "ema", "mean"]).default(method),
      /** EMA span or moving-mean length, in windows. */
      windows: z.number().int().min(1).max(100).default(windows),
    })
    .strict()
    .prefault({});
}

/**
 * The scream branch (docs/detection.md, "Two branches, measured"): a second model run on the same
 * windows, whose `scream` class alone is its danger score, with its own smoothing, thresholds and
 * k of n; an alert of either branch is the one alert (src/detect/any-branch.ts). The hold,
 * cooldown and max duration are detect's own, shared: one incident is one alert, and the
 * cooldown and max duration hold for the house, not per model. Off (model_dir null) by default.
 * The defaults below are what the tuning rule chose for the shipped scream model
 * (models/earwitness-screams, `cnnp`) on validation sound streams, held to the false-alert
 * target with its thresholds 0.2 lower (docs/detection.md, "Session 15").
 */
export const ScreamBranchSchema = z
  .object({
    /** Run the scream branch (a second model whose `scream` class is a danger of its own). */
    enabled: z.boolean().default(true),
    /**
     * A bundle directory of a model with a `scream` class (a home model) reading the speech
     * model's features; null = the scream model shipped in the package (models/earwitness-screams).
     */
    model_dir: absolutePath.nullable().default(null),
    smoothing: smoothingSchema("mean", 4),
    /** Smoothed scream probability at or above which a window counts towards an alert. */
    enter_threshold: unitInterval.default(0.9),
    /** While this branch alerts, a score below this starts its hold; must be < enter_threshold. */
    exit_threshold: unitInterval.default(0.7),
    k: z.number().int().min(1).max(100).default(2),
    n: z.number().int().min(1).max(100).default(3),
    min_duration_s: z.number().min(0).max(60).default(1),
    /**
     * Weigh the speech branch's danger by 1 − the scream model's `sound` probability: windows the
     * home model hears as a non-speech sound (a baby crying, a kitchen) count less as angry speech.
     */
    gate_speech: z.boolean().default(true),
  })
  .strict()
  .superRefine(crossCheck((d, ctx) => {
    if (num(d.enter_threshold) && num(d.exit_threshold) && d.enter_threshold <= d.exit_threshold) {
      ctx.addIssue({
        code: "custom",
        path: ["enter_threshold"],
        message: `detect.screams.enter_threshold (${d.enter_threshold}) must be greater than detect.screams.exit_threshold (${d.exit_threshold}), or alerts flicker on and off`,
        params: CROSS,
      });
    }
    if (num(d.k) && num(d.n) && d.k > d.n) {
      ctx.addIssue({ code: "custom", path: ["k"], message: `detect.screams.k (${d.k}) must be <= detect.screams.n (${d.n})`, params: CROSS });
    }
  }), ALWAYS)
  .prefault({});

export const DetectSchema = z
  .object({
    /** One analysis window every hop. */
    hop_s: z.number().min(0.05).max(5).default(0.5),
    /** Windows quieter than this skip inference and score 0 (saves CPU; silence is not danger). PROVISIONAL. */
    energy_gate_dbfs: z.number().min(-200).max(0).default(-60),
    /** Windows waiting for inference; when full the oldest are dropped and a problem is reported. */
    queue_max: z.number().int().min(1).max(1000).default(8),
    danger: z
      .object({
        /**
         * Emotions that count as danger (angry and fear: ../shared/data/README.md). A scream
         * always counts for models that hear screams (home models); weigh it with weights.scream.
         */
        labels: z.array(z.enum(OUTPUT_LABELS)).min(1).default([...DEFAULT_DANGER_LABELS]),
        /** Per-label weight in [0, 1]; a danger label not listed weighs 1 (`scream: 0` ignores screams). */
        weights: z.record(z.string(), z.number().min(0).max(1)).default({}),
      })
      .strict()
      .superRefine(crossCheck((d, ctx) => {
        if (!Array.isArray(d.labels) || !obj(d.weights)) return;
        const labels: readonly string[] = d.labels;
        const seen = new Set<string>();
        labels.forEach((l, i) => {
          if (seen.has(l)) ctx.addIssue({ code: "custom", path: ["labels", i], message: `detect.danger.labels lists "${l}" twice`, params: CROSS });
          seen.add(l);
        });
        for (const key of Object.keys(d.weights)) {
          if (!labels.includes(key) && key !== ALWAYS_DANGER) {
            ctx.addIssue({
              code: "custom",
              path: ["weights", key],
              message: `detect.danger.weights.${key} has no effect: "${key}" is not in detect.danger.labels`,
              params: CROSS,
            });
          }
        }
      }), ALWAYS)
      .prefault({}),
    /**
     * Smoothing of the danger score over windows before the thresholds. The detect defaults below
     * and the scream branch's were chosen for the shipped pair, a budget per kind (`earwitness
     * bench --streams … --sweep-branch screams --sweep-margin 0.2` on validation sound streams,
     * then `--sweep-branch speech --sweep-acceptance demo/demo.wav=1 --sweep-acceptance
     * demo/calm.wav=0` on validation home streams the speech model never trained on)
     * and checked on held-out corpora: docs/detection.md, "Session 15".
     */
    smoothing: smoothingSchema("ema", 6),
    /** Danger score at or above which a window counts towards an alert. */
    enter_threshold: unitInterval.default(0.75),
    /** While alerting, a score below this starts HOLD; must be < enter_threshold. */
    exit_threshold: unitInterval.default(0.55),
    /** k of the last n windows must reach enter_threshold: 2 of 3 at 0.5 s hops. */
    k: z.number().int().min(1).max(100).default(2),
    n: z.number().int().min(1).max(100).default(3),
    /** SUSPECT must have lasted this long before ALERT. */
    min_duration_s: z.number().min(0).max(60).default(1),
    /** After the score drops below exit, keep the alert this long (bridges a breath between shouts). */
    hold_s: z.number().min(0).max(600).default(2),
    /** No new alert this long after one ends. */
    cooldown_s: z.number().min(0).max(3600).default(10),
    /** An alert ends after this long even if the score stays high (nothing stays stuck on). */
    max_alert_s: z.number().min(1).max(3600).default(120),
    screams: ScreamBranchSchema,
  })
  .strict()
  .superRefine(crossCheck((d, ctx) => {
    if (num(d.enter_threshold) && num(d.exit_threshold) && d.enter_threshold <= d.exit_threshold) {
      ctx.addIssue({
        code: "custom",
        path: ["enter_threshold"],
        message: `detect.enter_threshold (${d.enter_threshold}) must be greater than detect.exit_threshold (${d.exit_threshold}), or alerts flicker on and off`,
        params: CROSS,
      });
    }
    if (num(d.k) && num(d.n) && d.k > d.n) {
      ctx.addIssue({ code: "custom", path: ["k"], message: `detect.k (${d.k}) must be <= detect.n (${d.n})`, params: CROSS });
    }
    if (num(d.max_alert_s) && num(d.hop_s) && d.max_alert_s < d.hop_s) {
      ctx.addIssue({
        code: "custom",
        path: ["max_alert_s"],
        message: `detect.max_alert_s (${d.max_alert_s}) must be at least one hop (detect.hop_s = ${d.hop_s})`,
        params: CROSS,
      });
    }
  }), ALWAYS);

// ─── adaptation ─────────────────────────────────────────────────────────────────────────────────

export const AdaptationSchema = z
  .object({
    /** Adapt the running feature statistics to the wearer's voice and room. PROVISIONAL: off until measured. */
    enabled: z.boolean().default(false),
    /** Older observations lose half their weight every this many hours. */
    half_life_h: z.number().min(0.1).max(8760).default(72),
    /** The most weight the wearer's statistics may take over the model's own (0 = none, 1 = all). */
    max_weight: z.number().min(0).max(1).default(0.5),
    /** Minutes of voiced audio after which the learnt statistics take their full weight. */
    warmup_min: z.number().min(0.1).max(10_000).default(10),
  })
  .strict();

// ─── gpio ───────────────────────────────────────────────────────────────────────────────────────

/** A Raspberry Pi header GPIO, by BCM number. */
const BcmPin = z.number().int().min(0).max(27);
/** A line on a gpiochip (Jetson, or any board where BCM numbers do not apply). */
const ChipLine = z
  .object({
    chip: z.string().min(1),
    line: z.number().int().min(0).max(1023),
  })
  .strict();
const GpioPinSchema = z.union([BcmPin, ChipLine], {
  error: "must be a BCM pin number (0-27), { chip, line }, or null",
});

const GpioLineObject = z
  .object({
    /** null = not connected. */
    pin: GpioPinSchema.nullable().default(null),
    /** The line is on when driven low (e.g. an LED wired to 3.3 V, a button to ground). */
    active_low: z.boolean().default(false),
  })
  .strict();

/** A line as written in YAML: `17`, `null`, or `{ pin: 17 | { chip, line }, active_low }`. */
const GpioLineSchema = z
  .union([z.null(), BcmPin, GpioLineObject], {
    error: "must be a BCM pin number (0-27), null, or { pin, active_low }",
  })
  .transform((v) => (v === null || typeof v === "number" ? { pin: v, active_low: false } : v))
  .prefault({});

export const GpioSchema = z
  .object({
    /**
     * onoff drives the lines via the kernel's sysfs GPIO; none disables every line; console prints
     * the LED and buzzer transitions to the log instead (demos and tests; the pins are ignored).
     */
    driver: z.enum(["onoff", "none", "console"]).default("onoff"),
    /** Indicator LED: on during an alert, patterns for problems. */
    led: GpioLineSchema,
    buzzer: GpioLineSchema,
    /** Push button: a press acknowledges the alert (silences the buzzer here, the published state reads acknowledged). */
    button: GpioLineSchema,
    /** Blink the LED briefly every few seconds while listening, so the wearer sees it is alive. */
    heartbeat: z.boolean().default(true),
    /** The buzzer stops after this long even if the alert goes on (the LED stays on). */
    buzzer_max_on_s: z.number().min(1).max(3600).default(60),
    /** Buzzer pattern during an alert: [on, off] in milliseconds. */
    buzzer_pattern_ms: z.tuple([z.number().int().min(50).max(10_000), z.number().int().min(0).max(10_000)]).default([500, 500]),
  })
  .strict()
  .superRefine(crossCheck((g, ctx) => {
    const names = ["led", "buzzer", "button"] as const;
    const used = new Map<string, string>();
    for (const name of names) {
      const line: unknown = g[name];
      if (!obj(line) || line.pin === null || line.pin === undefined) continue;
      if (g.driver === "none") {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `gpio.${name} is wired but gpio.driver is "none"; set gpio.driver: onoff, or gpio.${name}: null`,
          params: CROSS,
        });
      }
      const key = JSON.stringify(line.pin);
      const other = used.get(key);
      if (other !== undefined) {
        ctx.addIssue({ code: "custom", path: [name, "pin"], message: `gpio.${name}.pin ${key} is also gpio.${other}.pin`, params: CROSS });
      } else {
        used.set(key, name);
      }
    }
  }), ALWAYS);

// ─── mqtt ───────────────────────────────────────────────────────────────────────────────────────

const MqttUrl = z.string().refine(
  (u) => {
    try {
      const url = new URL(u);
      return (url.protocol === "mqtt:" || url.protocol === "mqtts:") && url.hostname !== "";
    } catch {
      return false;
    }
  },
  { message: "must be a mqtt:// or mqtts:// URL with a host, e.g. mqtt://homeassistant.local:1883" },
).refine(
  // A password in the URL ends up in logs, in `problem` payloads and in `doctor` output (issue #11
  // §9): refuse it, and say where secrets go instead.
  (u) => {
    try {
      const url = new URL(u);
      return url.username === "" && url.password === "";
    } catch {
      return true;
    }
  },
  {
    message:
      "must not contain a user name or password (user:pass@); set mqtt.username and mqtt.password_file " +
      "(or EARWITNESS_MQTT_PASSWORD, or systemd LoadCredential=, see the README) instead",
  },
);

const Topic = z
  .string()
  .min(1)
  .refine((t) => !/[+#]/.test(t) && !t.includes("\0") && !t.startsWith("/") && !t.endsWith("/") && !t.startsWith("$"), {
    message: "must be an MQTT topic without wildcards (+ #), a leading $, or a leading or trailing /",
  });

export const MqttSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Broker, e.g. mqtt://broker:1883 or mqtts://broker:8883. Required when enabled. */
    url: MqttUrl.nullable().default(null),
    /** null = "earwitness-<device_id>". */
    client_id: z.string().min(1).max(128).nullable().default(null),
    username: z.string().min(1).nullable().default(null),
    /** File holding the password (keeps the secret out of this file); EARWITNESS_MQTT_PASSWORD wins over it. */
    password_file: absolutePath.nullable().default(null),
    tls: z
      .object({
        /** CA certificate (PEM) to trust the broker; null = the system's CAs. */
        ca: absolutePath.nullable().default(null),
        /** Client certificate and key (PEM), for brokers that authenticate clients by certificate. */
        cert: absolutePath.nullable().default(null),
        key: absolutePath.nullable().default(null),
        /** Refuse a broker whose certificate does not verify. Turn off only for testing. */
        reject_unauthorized: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * Topics live under `<base_topic>/<device_id>`; null = "earwitness/<device_id>". A base_topic
     * that already ends in `/<device_id>` is that root itself (mqttTopicRoot).
     */
    base_topic: Topic.nullable().default(null),
    /** Publish level/state telemetry this often; 0 = off. */
    telemetry_interval_s: z.number().min(0).max(86_400).default(60),
    discovery: z
      .object({
        /** Publish Home Assistant MQTT discovery configs. */
        enabled: z.boolean().default(true),
        prefix: Topic.default("homeassistant"),
      })
      .strict()
      .prefault({}),
    /** Alerts not yet acknowledged by the broker are kept on disk (state dir) within these bounds. */
    outbox: z
      .object({
        max_events: z.number().int().min(1).max(1_000_000).default(1000),
        max_bytes: z.number().int().min(OUTBOX_MIN_BYTES).max(1_073_741_824).default(1_048_576),
      })
      .strict()
      .prefault({}),
    /** MQTT keepalive; the broker publishes the last will after about 1.5 × this without contact. */
    keepalive_s: z.number().int().min(5).max(3600).default(30),
  })
  .strict()
  .superRefine(crossCheck((m, ctx) => {
    if (m.enabled === true && m.url === null) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "mqtt.url is required when mqtt.enabled is true", params: CROSS });
    }
    const tls: Record<string, unknown> = obj(m.tls) ? m.tls : {};
    const secure = str(m.url) && m.url.startsWith("mqtts:");
    for (const f of ["ca", "cert", "key"] as const) {
      if (str(tls[f]) && str(m.url) && !secure) {
        ctx.addIssue({
          code: "custom",
          path: ["tls", f],
          message: `mqtt.tls.${f} is set but mqtt.url is not mqtts:// (TLS files are only used with mqtts://)`,
          params: CROSS,
        });
      }
    }
    if (str(tls.cert) !== str(tls.key)) {
      ctx.addIssue({
        code: "custom",
        path: ["tls", str(tls.cert) ? "key" : "cert"],
        message: "mqtt.tls.cert and mqtt.tls.key go together: set both or neither",
        params: CROSS,
      });
    }
    if (str(m.password_file) && m.username === null) {
      ctx.addIssue({ code: "custom", path: ["username"], message: "mqtt.username is required when mqtt.password_file is set", params: CROSS });
    }
  }), ALWAYS);

// ─── http (the local status page) ──────────────────────────────────────────────────────────────

/** Addresses that only this machine can reach: a status page there needs no token. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export const HttpSchema = z
  .object({
    /** The local status page, its JSON API and Prometheus metrics (never audio). */
    enabled: z.boolean().default(true),
    /** Address to listen on. 127.0.0.1 = this unit only (reach it with `ssh -L 8787:localhost:8787`). */
    bind: z.string().min(1).default("127.0.0.1"),
    /** TCP port; 0 = any free port (tests). */
    port: z.number().int().min(0).max(65_535).default(8787),
    /**
     * Required for a bind other than loopback: every request must carry it (Authorization: Bearer
     * <token>, or ?token=<token> for the page). At least 16 characters.
     */
    token: z.string().min(16).nullable().default(null),
  })
  .strict()
  .superRefine(crossCheck((h, ctx) => {
    if (h.enabled !== false && str(h.bind) && !isLoopbackHost(h.bind) && !str(h.token)) {
      ctx.addIssue({
        code: "custom",
        path: ["token"],
        message: `http.bind ${h.bind} opens the status page (and its arm/disarm/mute buttons) to the network: set http.token too, or bind to 127.0.0.1`,
        params: CROSS,
      });
    }
  }), ALWAYS);

// ─── the whole file ─────────────────────────────────────────────────────────────────────────────

/** The config file as written: what YAML may contain, with every default. */
export const ConfigFileSchema = z
  .object({
    /** Names this device in topics and alerts; null = the hostname and a short hash of /etc/machine-id. */
    device_id: z
      .string()
      .regex(DEVICE_ID_RE, { message: "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit" })
      .nullable()
      .default(null)
      .register(RESTART_ONLY, { reason: "the status socket and page report the old device id until then (MQTT moves to the new one at once)" }),
    /** Where the daemon keeps its state: outbox, adaptation statistics, status socket. */
    state_dir: absolutePath
      .default(DEFAULT_STATE_DIR)
      .register(RESTART_ONLY, { reason: "the pid file and the open-alert record stay in the old state_dir until then" }),
    log_level: LogLevelSchema.default("info"),
    /**
     * How log lines look. null = text under systemd (stdout not a terminal and JOURNAL_STREAM set:
     * the journal adds time and unit itself), pretty on a terminal, JSON otherwise.
     */
    log_format: z.enum(LOG_FORMATS).nullable().default(null).register(RESTART_ONLY, { reason: "the log is set up once, at start" }),
    /** Unix socket for `earwitness monitor`; null = <state_dir>/status.sock. */
    status_socket: absolutePath.nullable().default(null).register(RESTART_ONLY, { reason: "the status socket is opened once, at start" }),
    audio: AudioSchema.prefault({}).register(RESTART_ONLY, { reason: "the microphone is opened once, at start" }),
    model: ModelSchema.prefault({}),
    detect: DetectSchema.prefault({}),
    adaptation: AdaptationSchema.prefault({}),
    gpio: GpioSchema.prefault({}).register(RESTART_ONLY, { reason: "the LED, buzzer and button are set up once, at start" }),
    mqtt: MqttSchema.prefault({}),
    http: HttpSchema.prefault({}).register(RESTART_ONLY, { reason: "the status page is opened once, at start" }),
  })
  .strict()
  .superRefine(crossCheck((c, ctx) => {
    const socket = str(c.status_socket) ? c.status_socket : str(c.state_dir) ? join(c.state_dir, "status.sock") : null;
    if (socket !== null && Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
      const field = str(c.status_socket) ? "status_socket" : "state_dir";
      ctx.addIssue({
        code: "custom",
        path: [field],
        message: `${field} gives a status socket path of ${Buffer.byteLength(socket)} bytes; unix sockets allow ${MAX_SOCKET_PATH_BYTES}`,
        params: CROSS,
      });
    }
  }), ALWAYS);

export type ConfigFile = z.output<typeof ConfigFileSchema>;
/** What a YAML file or an override object may contain (everything optional). */
export type ConfigInput = z.input<typeof ConfigFileSchema>;

/** What the loader knows beyond the file. */
export interface ResolveContext {
  hostname: string;
  /** From EARWITNESS_MQTT_PASSWORD; null when unset. */
  mqttPassword: string | null;
  /** /etc/machine-id, for a default device id unique per machine; null or absent = hostname only. */
  machineId?: string | null;
}

/** A hostname made into a valid device id: invalid characters become '-'. */
export function deviceIdFromHostname(hostname: string): string {
  // "pi-kitchen.local" → "pi-kitchen": the host part only, as Home Assistant ids allow no dots.
  const cleaned = (hostname.split(".")[0] ?? "")
    .replace(/[^A-Za-z0-9_-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 64);
  return cleaned === "" ? "earwitness" : cleaned;
}

/**
 * The default device id: the hostname and a 6-digit hash of the machine id ("raspberrypi-3fa2c1"),
 * so units installed from one image (all "raspberrypi") do not share topics and an MQTT client
 * id. The hostname alone when the machine id is unknown. scripts/install.sh computes the same.
 */
export function defaultDeviceId(hostname: string, machineId: string | null | undefined): string {
  const host = deviceIdFromHostname(hostname);
  if (machineId === null || machineId === undefined || machineId.trim() === "") return host;
  return `${host.slice(0, 64 - 7)}-${machineSuffix(machineId)}`;
}

/** The topic level(s) device ids go under when `mqtt.base_topic` is null. */
export const DEFAULT_TOPIC_BASE = "earwitness";

/**
 * Where every MQTT topic of a device lives, its topic root: `<base>/<deviceId>`. The base is
 * `mqtt.base_topic` as written, less a trailing `/<ownDeviceId>` (a base_topic written as the
 * unit's own root, "home/alarm/kitchen" on unit kitchen, is that root), or "earwitness" when null.
 *
 * The only place a root is made from config: resolveConfig derives the unit's own once
 * (`mqtt.topic_root`, what the daemon, doctor and selftest use); `mqtt forget --device-id OLD`
 * asks for another id's root under the same base.
 */
export function mqttTopicRoot(baseTopic: string | null, ownDeviceId: string, deviceId: string = ownDeviceId): string {
  const suffix = `/${ownDeviceId}`;
  const base = baseTopic === null ? DEFAULT_TOPIC_BASE : baseTopic.endsWith(suffix) ? baseTopic.slice(0, -suffix.length) : baseTopic;
  return `${base}/${deviceId}`;
}

/** Fills the defaults that depend on other fields or on the machine. */
export function resolveConfig(file: ConfigFile, context: ResolveContext) {
  const deviceId = file.device_id ?? defaultDeviceId(context.hostname, context.machineId);
  return {
    ...file,
    device_id: deviceId,
    status_socket: file.status_socket ?? join(file.state_dir, "status.sock"),
    mqtt: {
      ...file.mqtt,
      client_id: file.mqtt.client_id ?? `earwitness-${deviceId}`,
      /** Every topic of this unit lives under this (mqttTopicRoot); `base_topic` stays as written. */
      topic_root: mqttTopicRoot(file.mqtt.base_topic, deviceId),
      /** The secret from the environment, if any; else read `password_file` with mqttPassword(). */
      password: context.mqttPassword,
    },
  };
}

/** The resolved configuration the daemon runs with. */
export type Config = ReturnType<typeof resolveConfig>;
export type LogLevel = z.output<typeof LogLevelSchema>;
export type AudioConfig = Config["audio"];
export type ModelConfig = Config["model"];
export type DetectConfig = Config["detect"];
export type AdaptationConfig = Config["adaptation"];
export type GpioConfig = Config["gpio"];
export type GpioLine = GpioConfig["led"];
export type GpioPin = NonNullable<GpioLine["pin"]>;
export type MqttConfig = Config["mqtt"];
export type HttpConfig = Config["http"];
