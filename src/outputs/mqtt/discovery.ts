/**
 * Home Assistant MQTT discovery: pure builders of the retained config messages.
 *
 * Why one config per component (`<prefix>/<component>/<deviceId>/<objectId>/config`) and not
 * HA's newer device-based discovery (`<prefix>/device/<id>/config` with `cmps`, HA 2024.12+):
 * openHAB's Home Assistant binding only learned device-based discovery in
 * https://github.com/openhab/openhab-addons/pull/20225 (merged 2026-02); openHAB 5.0 rejects it
 * ("invalid configuration", openhab-addons#19698). Home Assistant keeps supporting per-component
 * discovery with no deprecation planned, so per-component configs work for both, old and new.
 * Each config repeats `device` (shared `identifiers`, so both group the entities into one device /
 * Thing), `origin`, and `availability`.
 *
 * Entities (object ids):
 * - `danger`        binary_sensor, device_class safety: ON while an alert is active.
 * - `alert`         event: event_types alert_start, alert_end, test_start, test_end (the
 *                   `alert` payload carries `event_type`, so no template is involved).
 * - `danger_score`  sensor from state.danger. Disabled by default: it changes with every
 *                   state message (up to ~18 a minute during speech), which with
 *                   `state_class: measurement` costs ~26 000 recorder rows a day; the
 *                   Danger binary sensor and the Alert event are what automations need.
 * - `emotion`       enum sensor from state.emotion: the strongest emotion heard, danger or not
 *                   (`none` when nothing was analysed). Options: every label a model may have.
 * - `danger_emotion` enum sensor from state.danger_emotion: the danger label that weighs most
 *                   in the danger score (`none` when none is above zero).
 * - `mute`          number (minutes, box): command `set/mute` (0 unmutes), state from
 *                   state.mute_minutes. Independent of `armed`: muting never flips the switch.
 * - `muted_until`   timestamp sensor from state.muted_until (unknown when not muted).
 * - `last_alert`    timestamp sensor from the retained `alert/last` (started_at), its payload as
 *                   attributes: a Home Assistant that was down when an alert came still shows it.
 * - `dbfs`          sensor from telemetry.dbfs; removed (empty config) when telemetry is off.
 * - `model_version` sensor (diagnostic) from state.model.version.
 * - `problem`       binary_sensor, device_class problem (diagnostic): ON while state.problems
 *                   is not empty; attributes `problems` (codes) and `messages` (code → what to do).
 * - `armed`         switch: command `set/armed` ON/OFF, state from state.armed.
 * - `test`          button (diagnostic): command `set/test` PRESS.
 * - `acknowledge`   button: command `set/ack` PRESS.
 * - `reset_adaptation` button (config): sends `{"command":"reset_adaptation"}` to `set`, for a
 *                   unit moved to another person or room. Rarely wanted and it throws away hours
 *                   of learning, hence the config category (kept off default dashboards) and no
 *                   topic of its own. Published whatever `adaptation.enabled` says (the sink does
 *                   not know it); with adaptation off the command is refused on `set/result`.
 *
 * Templates only use `if/else`, `or` and `| length`, which both HA's Jinja and openHAB's
 * template engines handle.
 */
import { LABEL_VOCABULARY } from "../../constants.js";
import { MUTE_MINUTES_MAX } from "./commands.js";
import {
  ALERT_EVENT_TYPES,
  AVAILABILITY_OFFLINE,
  AVAILABILITY_ONLINE,
  topicFor,
  type ModelInfo,
} from "./contract.js";

export const HA_STATUS_ONLINE = "online";

export interface DiscoveryContext {
  /** Discovery prefix, `homeassistant` by default. */
  prefix: string;
  /** The device's topic root, `<base>/<deviceId>` (contract.ts checkTopicRoot). */
  root: string;
  deviceId: string;
  deviceName: string;
  model: ModelInfo;
  softwareVersion: string;
  telemetryEnabled: boolean;
  /** Shown by HA as the origin's support link; omitted when not given. */
  supportUrl?: string;
  /** HA's "Visit" link on the device page (http(s) or homeassistant://); omitted when not given. */
  configurationUrl?: string;
  /** The board, e.g. "Raspberry Pi 4 Model B Rev 1.4" (/proc/device-tree/model); omitted when unknown. */
  hwVersion?: string;
}

/** What the enum sensors may show: every label a model may carry, and `none`. */
export const EMOTION_OPTIONS: readonly string[] = [...LABEL_VOCABULARY, "none"];

/** HA device model: what the unit is, not who made it (the manufacturer says that). */
export const DEVICE_MODEL = "Voice danger detector";

export interface DiscoveryMessage {
  topic: string;
  /** JSON config, or "" to remove the entity. Always published retained. */
  payload: string;
}

/** HA publishes its birth (`online`) and will (`offline`) here; on `online` we republish. */
export function haStatusTopic(prefix: string): string {
  return `${prefix}/status`;
}

type Component = "binary_sensor" | "event" | "sensor" | "switch" | "button" | "number";

interface Entity {
  component: Component;
  objectId: string;
  config: Record<string, unknown>;
  /** False: publish an empty config so a previously discovered entity disappears. */
  enabled?: boolean;
}

export function buildDiscoveryMessages(ctx: DiscoveryContext): DiscoveryMessage[] {
  const state = topicFor(ctx.root, "state");
  const entities: Entity[] = [
    {
      component: "binary_sensor",
      objectId: "danger",
      config: {
        name: "Danger",
        device_class: "safety",
        state_topic: state,
        value_template: "{{ 'ON' if value_json.alerting else 'OFF' }}",
      },
    },
    {
      component: "event",
      objectId: "alert",
      config: {
        name: "Alert",
        state_topic: topicFor(ctx.root, "alert"),
        event_types: [...ALERT_EVENT_TYPES],
        icon: "mdi:account-alert",
      },
    },
    {
      component: "sensor",
      objectId: "danger_score",
      config: {
        name: "Danger score",
        state_topic: state,
        value_template: "{{ value_json.danger }}",
        state_class: "measurement",
        enabled_by_default: false,
        suggested_display_precision: 2,
        icon: "mdi:alert-decagram",
      },
    },
    {
      component: "sensor",
      objectId: "emotion",
      config: {
        name: "Emotion",
        state_topic: state,
        value_template: "{{ value_json.emotion or 'none' }}",
        device_class: "enum",
        options: [...EMOTION_OPTIONS],
        icon: "mdi:emoticon-outline",
      },
    },
    {
      component: "sensor",
      objectId: "danger_emotion",
      config: {
        name: "Danger emotion",
        state_topic: state,
        value_template: "{{ value_json.danger_emotion or 'none' }}",
        device_class: "enum",
        options: [...EMOTION_OPTIONS],
        icon: "mdi:emoticon-angry-outline",
      },
    },
    {
      component: "number",
      objectId: "mute",
      config: {
        name: "Mute",
        command_topic: topicFor(ctx.root, "set/mute"),
        state_topic: state,
        value_template: "{{ value_json.mute_minutes }}",
        min: 0,
        max: MUTE_MINUTES_MAX,
        step: 1,
        mode: "box",
        unit_of_measurement: "min",
        retain: false,
        icon: "mdi:bell-sleep",
      },
    },
    {
      component: "sensor",
      objectId: "muted_until",
      config: {
        name: "Muted until",
        state_topic: state,
        // HA's MQTT sensor reads the text "None" as no value (unknown).
        value_template: "{{ value_json.muted_until or 'None' }}",
        device_class: "timestamp",
        icon: "mdi:bell-sleep-outline",
      },
    },
    {
      component: "sensor",
      objectId: "last_alert",
      config: {
        name: "Last alert",
        state_topic: topicFor(ctx.root, "alert/last"),
        value_template: "{{ value_json.started_at }}",
        device_class: "timestamp",
        json_attributes_topic: topicFor(ctx.root, "alert/last"),
        icon: "mdi:history",
      },
    },
    {
      component: "sensor",
      objectId: "dbfs",
      enabled: ctx.telemetryEnabled,
      config: {
        name: "Sound level",
        state_topic: topicFor(ctx.root, "telemetry"),
        value_template: "{{ value_json.dbfs }}",
        unit_of_measurement: "dBFS",
        state_class: "measurement",
        suggested_display_precision: 1,
        icon: "mdi:microphone",
      },
    },
    {
      component: "sensor",
      objectId: "model_version",
      config: {
        name: "Model version",
        state_topic: state,
        value_template: "{{ value_json.model.version }}",
        entity_category: "diagnostic",
        icon: "mdi:brain",
      },
    },
    {
      component: "binary_sensor",
      objectId: "problem",
      config: {
        name: "Problem",
        device_class: "problem",
        state_topic: state,
        value_template: "{{ 'ON' if value_json.problems | length > 0 else 'OFF' }}",
        json_attributes_topic: state,
        json_attributes_template: "{{ {'problems': value_json.problems, 'messages': value_json.problem_messages} | tojson }}",
        entity_category: "diagnostic",
      },
    },
    {
      component: "switch",
      objectId: "armed",
      config: {
        name: "Armed",
        command_topic: topicFor(ctx.root, "set/armed"),
        payload_on: "ON",
        payload_off: "OFF",
        state_topic: state,
        value_template: "{{ 'ON' if value_json.armed else 'OFF' }}",
        state_on: "ON",
        state_off: "OFF",
        retain: false,
        icon: "mdi:shield-check",
      },
    },
    {
      component: "button",
      objectId: "test",
      config: {
        name: "Test alert",
        command_topic: topicFor(ctx.root, "set/test"),
        payload_press: "PRESS",
        retain: false,
        entity_category: "diagnostic",
        icon: "mdi:bell-ring",
      },
    },
    {
      component: "button",
      objectId: "acknowledge",
      config: {
        name: "Acknowledge",
        command_topic: topicFor(ctx.root, "set/ack"),
        payload_press: "PRESS",
        retain: false,
        icon: "mdi:check-circle",
      },
    },
    {
      component: "button",
      objectId: "reset_adaptation",
      config: {
        name: "Reset voice adaptation",
        command_topic: topicFor(ctx.root, "set"),
        payload_press: JSON.stringify({ command: "reset_adaptation" }),
        retain: false,
        entity_category: "config",
        icon: "mdi:account-voice",
      },
    },
  ];

  const device = {
    identifiers: [`earwitness_${ctx.deviceId}`],
    name: ctx.deviceName,
    manufacturer: "earwitness",
    model: DEVICE_MODEL,
    sw_version: ctx.softwareVersion,
    ...(ctx.hwVersion ? { hw_version: ctx.hwVersion } : {}),
    ...(ctx.configurationUrl ? { configuration_url: ctx.configurationUrl } : {}),
  };
  const origin = {
    name: "earwitness",
    sw_version: ctx.softwareVersion,
    ...(ctx.supportUrl ? { support_url: ctx.supportUrl } : {}),
  };
  const availability = [
    {
      topic: topicFor(ctx.root, "availability"),
      payload_available: AVAILABILITY_ONLINE,
      payload_not_available: AVAILABILITY_OFFLINE,
    },
  ];

  return entities.map((e) => ({
    topic: `${ctx.prefix}/${e.component}/${ctx.deviceId}/${e.objectId}/config`,
    payload:
      e.enabled === false
        ? ""
        : JSON.stringify({
            ...e.config,
            unique_id: `earwitness_${ctx.deviceId}_${e.objectId}`,
            device,
            origin,
            availability,
            qos: 1,
          }),
  }));
}
