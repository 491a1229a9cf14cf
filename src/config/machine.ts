/**
 * What makes this machine different from its siblings: Raspberry Pi OS images all say
 * `raspberrypi` as hostname, so two units installed from one image would publish under one
 * device id and take each other's MQTT connection forever. /etc/machine-id is unique per
 * installation (systemd writes it at first boot); we never publish it, only a short hash of it
 * keyed to earwitness (machine-id(5): "should be considered confidential … hash it with a fixed,
 * application-specific key").
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

export const MACHINE_ID_PATH = "/etc/machine-id";
/** The board's name on a Pi or Jetson, e.g. "Raspberry Pi 4 Model B Rev 1.4". */
export const BOARD_MODEL_PATH = "/proc/device-tree/model";

/** 6 hex digits of sha256("earwitness\n" + machine-id): 16.7 million values, stable per install. */
export function machineSuffix(machineId: string): string {
  return createHash("sha256").update(`earwitness\n${machineId.trim()}`).digest("hex").slice(0, 6);
}

/** The machine id, or null when the file is missing or empty (containers, some CI). */
export async function readMachineId(path: string = MACHINE_ID_PATH): Promise<string | null> {
  try {
    const id = (await readFile(path, "utf8")).trim();
    return id === "" ? null : id;
  } catch {
    return null;
  }
}

/** The board model without the device tree's trailing NUL, or undefined when not known. */
export async function readBoardModel(path: string = BOARD_MODEL_PATH): Promise<string | undefined> {
  try {
    const text = (await readFile(path, "utf8")).replace(/\0/g, "").trim();
    return text === "" ? undefined : text.slice(0, 100);
  } catch {
    return undefined;
  }
}
