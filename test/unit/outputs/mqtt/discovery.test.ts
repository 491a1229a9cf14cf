import { describe, expect, it } from "vitest";
import { buildDiscoveryMessages, haStatusTopic, type DiscoveryContext } from "../../../../src/outputs/mqtt/discovery.js";
import { parseCommand } from "../../../../src/outputs/mqtt/commands.js";
import { ALERT_EVENT_TYPES, alertEventType } from "../../../../src/outputs/mqtt/contract.js";
import { LABEL_VOCABULARY } from "../../../../src/constants.js";

const ctx: DiscoveryContext = {
  prefix: "homeassistant",
  root: "earwitness/kitchen",
  deviceId: "kitchen",
  deviceName: "Kitchen listener",
  model: { name: "ser-small", version: "1.2.0", sha256: "00" },
  softwareVersion: "0.1.0",
  telemetryEnabled: true,
};

function byTopic(c: DiscoveryContext = ctx): Map<string, Record<string, unknown> | ""> {
  return new Map(buildDiscoveryMessages(c).map((m) => [m.topic, m.payload === "" ? "" : (JSON.parse(m.payload) as Record<string, unknown>)]));
}

function config(topic: string, c?: DiscoveryContext): Record<string, unknown> {
  const value = byTopic(c).get(topic);
  if (value === undefined || value === "") throw new Error(`no config on ${topic}`);
  return value;
}

describe("Home Assistant discovery", () => {
  it("publishes one config per component under <prefix>/<component>/<device>/<object>/config", () => {
    expect([...byTopic().keys()].sort()).toEqual(
      [
        "homeassistant/binary_sensor/kitchen/danger/config",
        "homeassistant/binary_sensor/kitchen/problem/config",
        "homeassistant/button/kitchen/acknowledge/config",
        "homeassistant/button/kitchen/reset_adaptation/config",
        "homeassistant/button/kitchen/test/config",
        "homeassistant/event/kitchen/alert/config",
        "homeassistant/number/kitchen/mute/config",
        "homeassistant/sensor/kitchen/danger_emotion/config",
        "homeassistant/sensor/kitchen/danger_score/config",
        "homeassistant/sensor/kitchen/dbfs/config",
        "homeassistant/sensor/kitchen/emotion/config",
        "homeassistant/sensor/kitchen/last_alert/config",
        "homeassistant/sensor/kitchen/model_version/config",
        "homeassistant/sensor/kitchen/muted_until/config",
        "homeassistant/switch/kitchen/armed/config",
      ].sort(),
    );
  });

  it("gives every entity a unique id, the shared device, origin and availability", () => {
    const configs = [...byTopic().values()].filter((v): v is Record<string, unknown> => v !== "");
    const ids = configs.map((c) => c.unique_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of configs) {
      expect(c.unique_id).toMatch(/^earwitness_kitchen_[a-z_]+$/);
      expect(c.device).toEqual({
        identifiers: ["earwitness_kitchen"],
        name: "Kitchen listener",
        manufacturer: "earwitness",
        model: "Voice danger detector",
        sw_version: "0.1.0",
      });
      expect((c.device as { model: string }).model).not.toBe((c.device as { manufacturer: string }).manufacturer);
      expect(c.origin).toEqual({ name: "earwitness", sw_version: "0.1.0" });
      expect(c.availability).toEqual([
        { topic: "earwitness/kitchen/availability", payload_available: "online", payload_not_available: "offline" },
      ]);
    }
  });

  it("has a safety binary sensor driven by the retained state", () => {
    expect(config("homeassistant/binary_sensor/kitchen/danger/config")).toMatchObject({
      device_class: "safety",
      state_topic: "earwitness/kitchen/state",
      value_template: "{{ 'ON' if value_json.alerting else 'OFF' }}",
    });
  });

  it("has an event entity whose types match what alerts carry", () => {
    const event = config("homeassistant/event/kitchen/alert/config");
    expect(event).toMatchObject({ state_topic: "earwitness/kitchen/alert" });
    expect(event.value_template).toBeUndefined();
    expect(event.event_types).toEqual([...ALERT_EVENT_TYPES]);
    for (const phase of ["start", "end"] as const) {
      for (const test of [false, true]) expect(event.event_types).toContain(alertEventType({ phase, test }));
    }
  });

  it("wires the switch and buttons to the command topics with HA's default payloads", () => {
    expect(config("homeassistant/switch/kitchen/armed/config")).toMatchObject({
      command_topic: "earwitness/kitchen/set/armed",
      payload_on: "ON",
      payload_off: "OFF",
      state_topic: "earwitness/kitchen/state",
      state_on: "ON",
      state_off: "OFF",
    });
    expect(config("homeassistant/button/kitchen/test/config")).toMatchObject({
      command_topic: "earwitness/kitchen/set/test",
      payload_press: "PRESS",
    });
    expect(config("homeassistant/button/kitchen/acknowledge/config")).toMatchObject({
      command_topic: "earwitness/kitchen/set/ack",
      payload_press: "PRESS",
    });
  });

  it("has a config button that sends reset_adaptation to the JSON command topic, as the parser reads it", () => {
    const button = config("homeassistant/button/kitchen/reset_adaptation/config");
    expect(button).toMatchObject({
      name: "Reset voice adaptation",
      command_topic: "earwitness/kitchen/set",
      entity_category: "config",
      retain: false,
      unique_id: "earwitness_kitchen_reset_adaptation",
      qos: 1,
    });
    // What HA sends on a press is exactly what the daemon obeys on that topic.
    expect(parseCommand("set", String(button.payload_press))).toEqual({ ok: true, command: { command: "reset_adaptation" }, id: null });
  });

  it("removes the dBFS sensor (empty config) when telemetry is off", () => {
    expect(byTopic({ ...ctx, telemetryEnabled: false }).get("homeassistant/sensor/kitchen/dbfs/config")).toBe("");
    expect(config("homeassistant/sensor/kitchen/dbfs/config")).toMatchObject({
      state_topic: "earwitness/kitchen/telemetry",
      unit_of_measurement: "dBFS",
    });
  });

  it("honours a custom prefix and support url", () => {
    const custom = { ...ctx, prefix: "ha", supportUrl: "https://example.org/help" };
    expect(config("ha/switch/kitchen/armed/config", custom).origin).toEqual({
      name: "earwitness",
      sw_version: "0.1.0",
      support_url: "https://example.org/help",
    });
    expect(haStatusTopic("ha")).toBe("ha/status");
  });

  it("has enum emotion sensors for the strongest and the danger emotion, with every value they can show", () => {
    for (const [object, field] of [["emotion", "emotion"], ["danger_emotion", "danger_emotion"]] as const) {
      const c = config(`homeassistant/sensor/kitchen/${object}/config`);
      expect(c).toMatchObject({ device_class: "enum", state_topic: "earwitness/kitchen/state", value_template: `{{ value_json.${field} or 'none' }}` });
      expect(c.options).toEqual([...LABEL_VOCABULARY, "none"]);
    }
  });

  it("has a mute number and a muted-until timestamp, apart from the Armed switch", () => {
    const mute = config("homeassistant/number/kitchen/mute/config");
    expect(mute).toMatchObject({
      command_topic: "earwitness/kitchen/set/mute",
      state_topic: "earwitness/kitchen/state",
      value_template: "{{ value_json.mute_minutes }}",
      min: 0,
      max: 1440,
      step: 1,
      unit_of_measurement: "min",
    });
    // What HA sends for a number (an integer as text) is what the daemon obeys; 0 unmutes.
    expect(parseCommand("set/mute", "30")).toEqual({ ok: true, command: { command: "mute", minutes: 30 }, id: null });
    expect(parseCommand("set/mute", "30.0")).toEqual({ ok: true, command: { command: "mute", minutes: 30 }, id: null });
    expect(parseCommand("set/mute", "0")).toEqual({ ok: true, command: { command: "unmute" }, id: null });
    expect(config("homeassistant/sensor/kitchen/muted_until/config")).toMatchObject({
      device_class: "timestamp",
      value_template: "{{ value_json.muted_until or 'None' }}",
    });
    // The switch reads armed only: muting does not flip it.
    expect(config("homeassistant/switch/kitchen/armed/config").value_template).toBe("{{ 'ON' if value_json.armed else 'OFF' }}");
  });

  it("gives the problem sensor the codes and messages as attributes", () => {
    expect(config("homeassistant/binary_sensor/kitchen/problem/config")).toMatchObject({
      json_attributes_topic: "earwitness/kitchen/state",
      json_attributes_template: "{{ {'problems': value_json.problems, 'messages': value_json.problem_messages} | tojson }}",
    });
  });

  it("keeps the test button and the busy danger score off the default dashboard and recorder", () => {
    expect(config("homeassistant/button/kitchen/test/config").entity_category).toBe("diagnostic");
    expect(config("homeassistant/sensor/kitchen/danger_score/config")).toMatchObject({ enabled_by_default: false, state_class: "measurement" });
  });

  it("shows the last alert from the retained alert/last topic", () => {
    expect(config("homeassistant/sensor/kitchen/last_alert/config")).toMatchObject({
      state_topic: "earwitness/kitchen/alert/last",
      json_attributes_topic: "earwitness/kitchen/alert/last",
      value_template: "{{ value_json.started_at }}",
      device_class: "timestamp",
    });
  });

  it("names the board and the links when known", () => {
    const c = config("homeassistant/switch/kitchen/armed/config", {
      ...ctx,
      hwVersion: "Raspberry Pi 4 Model B Rev 1.4",
      configurationUrl: "https://example.org/earwitness",
      supportUrl: "https://example.org/help",
    });
    expect(c.device).toMatchObject({ hw_version: "Raspberry Pi 4 Model B Rev 1.4", configuration_url: "https://example.org/earwitness" });
    expect(c.origin).toMatchObject({ support_url: "https://example.org/help" });
  });
});
