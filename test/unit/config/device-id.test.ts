import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { defaultDeviceId, deviceIdFromHostname } from "../../../src/config/schema.js";
import { machineSuffix, readMachineId } from "../../../src/config/machine.js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkTopicRoot } from "../../../src/outputs/mqtt/contract.js";

describe("device id", () => {
  it("takes the host part of a dotted hostname, so MQTT and Home Assistant accept it", () => {
    expect(deviceIdFromHostname("pi-kitchen.local")).toBe("pi-kitchen");
    expect(deviceIdFromHostname("ünit 7")).toBe("nit-7");
    expect(deviceIdFromHostname("...")).toBe("earwitness");
    const r = parseConfig(null, { env: {}, hostname: "pi.lan" });
    expect(r.ok && r.config.device_id).toBe("pi");
    if (r.ok) expect(() => checkTopicRoot(r.config.mqtt.topic_root, r.config.device_id)).not.toThrow();
  });

  it("refuses a configured id with a dot, naming the rule", () => {
    const r = parseConfig("device_id: my.unit\n", { env: {}, hostname: "x" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.join("\n")).toMatch(/device_id.*letters, digits, '_' or '-'/);
  });

  it("defaults to the hostname and a hash of the machine id, so units from one image differ", () => {
    const a = "0123456789abcdef0123456789abcdef";
    const b = "fedcba9876543210fedcba9876543210";
    expect(defaultDeviceId("raspberrypi", a)).toMatch(/^raspberrypi-[0-9a-f]{6}$/);
    expect(defaultDeviceId("raspberrypi", a)).not.toBe(defaultDeviceId("raspberrypi", b));
    expect(defaultDeviceId("raspberrypi", a)).toBe(defaultDeviceId("raspberrypi", `${a}\n`)); // stable
    // Never the machine id itself (machine-id(5): confidential), only a keyed hash of it.
    expect(defaultDeviceId("raspberrypi", a)).not.toContain(a.slice(0, 6));
    expect(machineSuffix(a)).toBe(defaultDeviceId("raspberrypi", a).slice(-6));
    expect(defaultDeviceId("raspberrypi", null)).toBe("raspberrypi");
    expect(defaultDeviceId("x".repeat(80), a)).toHaveLength(64);
    const r = parseConfig(null, { env: {}, hostname: "raspberrypi", machineId: a });
    expect(r.ok && r.config.device_id).toBe(defaultDeviceId("raspberrypi", a));
    expect(r.ok && r.config.mqtt.client_id).toBe(`earwitness-${defaultDeviceId("raspberrypi", a)}`);
    const set = parseConfig("device_id: kitchen\n", { env: {}, hostname: "raspberrypi", machineId: a });
    expect(set.ok && set.config.device_id).toBe("kitchen");
  });

  it("reads the machine id, and treats a missing or empty file as unknown", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "earwitness-machine-id-"));
    try {
      await writeFile(path.join(dir, "machine-id"), "0123456789abcdef0123456789abcdef\n");
      await writeFile(path.join(dir, "empty"), "");
      expect(await readMachineId(path.join(dir, "machine-id"))).toBe("0123456789abcdef0123456789abcdef");
      expect(await readMachineId(path.join(dir, "empty"))).toBeNull();
      expect(await readMachineId(path.join(dir, "missing"))).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
