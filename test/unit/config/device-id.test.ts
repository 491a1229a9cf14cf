import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { deviceIdFromHostname } from "../../../src/config/schema.js";
import { deviceTopicRoot } from "../../../src/outputs/mqtt/contract.js";

describe("device id", () => {
  it("takes the host part of a dotted hostname, so MQTT and Home Assistant accept it", () => {
    expect(deviceIdFromHostname("pi-kitchen.local")).toBe("pi-kitchen");
    expect(deviceIdFromHostname("ünit 7")).toBe("nit-7");
    expect(deviceIdFromHostname("...")).toBe("earwitness");
    const r = parseConfig(null, { env: {}, hostname: "pi.lan" });
    expect(r.ok && r.config.device_id).toBe("pi");
    if (r.ok) expect(() => deviceTopicRoot("earwitness", r.config.device_id)).not.toThrow();
  });

  it("refuses a configured id with a dot, naming the rule", () => {
    const r = parseConfig("device_id: my.unit\n", { env: {}, hostname: "x" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.join("\n")).toMatch(/device_id.*letters, digits, '_' or '-'/);
  });
});
