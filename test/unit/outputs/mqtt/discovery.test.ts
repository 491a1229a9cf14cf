import { describe, expect, it } from "vitest";
import { buildDiscoveryMessages, haStatusTopic, type DiscoveryContext } from "../../../../src/outputs/mqtt/discovery.js";
import { parseCommand } from "../../../../src/outputs/mqtt/commands.js";
import { ALERT_EVENT_TYPES, alertEventType } from "../../../../src/outputs/mqtt/contract.js";

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
        "homeassistant/sensor/kitchen/danger_score/config",
        "homeassistant/sensor/kitchen/dbfs/config",
        "homeassistant/sensor/kitchen/emotion/config",
        "homeassistant/sensor/kitchen/model_version/config",
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
        model: "earwitness",
        sw_version: "0.1.0",
      });
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
});
