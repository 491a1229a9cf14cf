/**
 * The MQTT topic root is derived once, from `mqtt.base_topic` and `device_id`, by mqttTopicRoot
 * (issue 14, point 4). These are the roots the daemon has always published under: the cases are
 * the ones the sink, doctor and `mqtt forget` each used to work out for themselves.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { mqttTopicRoot } from "../../../src/config/schema.js";

function rootOf(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  const r = parseConfig(yaml, { env, hostname: "host" });
  if (!r.ok) throw new Error(r.issues.join("\n"));
  return r.config.mqtt.topic_root;
}

describe("the MQTT topic root", () => {
  it("is earwitness/<device_id> by default, following the device id wherever it comes from", () => {
    expect(rootOf("device_id: kitchen\n")).toBe("earwitness/kitchen");
    expect(rootOf("device_id: kitchen\n", { EARWITNESS_DEVICE_ID: "hall" })).toBe("earwitness/hall");
    expect(rootOf("")).toBe("earwitness/host");
  });

  it("puts the device id under a configured base_topic", () => {
    expect(rootOf("device_id: kitchen\nmqtt:\n  base_topic: home/alarm\n")).toBe("home/alarm/kitchen");
  });

  it("takes a base_topic that already ends in /<device_id> as the root itself, not appending the id twice", () => {
    expect(rootOf("device_id: kitchen\nmqtt:\n  base_topic: earwitness/kitchen\n")).toBe("earwitness/kitchen");
    expect(rootOf("device_id: kitchen\nmqtt:\n  base_topic: home/kitchen\n")).toBe("home/kitchen");
    // Only a whole level counts: "kitchen" alone, or "my-kitchen", is a base.
    expect(rootOf("device_id: kitchen\nmqtt:\n  base_topic: kitchen\n")).toBe("kitchen/kitchen");
    expect(rootOf("device_id: kitchen\nmqtt:\n  base_topic: my-kitchen\n")).toBe("my-kitchen/kitchen");
  });

  it("gives another device's root under the same base (mqtt forget --device-id)", () => {
    expect(mqttTopicRoot(null, "kitchen", "old-pi")).toBe("earwitness/old-pi");
    expect(mqttTopicRoot("home/alarm", "kitchen", "old-pi")).toBe("home/alarm/old-pi");
    expect(mqttTopicRoot("home/alarm/kitchen", "kitchen", "old-pi")).toBe("home/alarm/old-pi");
  });
});
