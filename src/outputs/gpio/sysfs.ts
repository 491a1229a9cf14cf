/**
 * Mapping header pin numbers to sysfs GPIO numbers.
 *
 * Since kernel 6.6 (Raspberry Pi OS Bookworm) gpiochips no longer start at 0: the Pi 4's header
 * chip `pinctrl-bcm2711` has base 512 and the Pi 5's header chip `pinctrl-rp1` (on the RP1
 * southbridge, after four `gpio-brcmstb@…` chips of 32+4+17+6 lines) has base 571. Exporting a
 * bare BCM number then fails with EINVAL (https://github.com/fivdi/onoff/issues/199, #200). So we
 * read the bases the kernel publishes in /sys/class/gpio/gpiochip<base>/{label,base,ngpio}
 * rather than guess them from the board model.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { OutputError } from "../../errors.js";

export const DEFAULT_SYSFS_GPIO_ROOT = "/sys/class/gpio";

/**
 * Labels of the gpiochip that carries the 40-pin header's BCM GPIO0-27, most specific first:
 * Pi 5 (RP1), Pi 4 / 400 / CM4 (BCM2711), Pi 1-3 and Zero (the bcm2835 driver, also used for
 * BCM2836/7). Only these labels are trusted for a bare BCM number; anything else must be named.
 */
export const HEADER_CHIP_LABELS = ["pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"] as const;

/** A BCM GPIO number on the header, or a line on a gpiochip named by its label. */
export type PinRef = number | { chip: string; line: number };

export interface SysfsChip {
  /** Directory name, e.g. "gpiochip512". */
  dir: string;
  label: string;
  base: number;
  ngpio: number;
}

/** Read every gpiochip under the sysfs root, sorted by base. */
export async function listSysfsChips(root: string = DEFAULT_SYSFS_GPIO_ROOT): Promise<SysfsChip[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ENOENT") {
      throw new OutputError(
        "GPIO_SYSFS_MISSING",
        `${root} does not exist: this kernel has no sysfs GPIO interface (CONFIG_GPIO_SYSFS) or this is ` +
          "not a Raspberry Pi; run on Raspberry Pi OS, or remove the gpio lines from the config",
        { cause: err },
      );
    }
    if (code === "EACCES" || code === "EPERM") {
      throw new OutputError(
        "GPIO_PERMISSION",
        `not permitted to read ${root}; add the service user to the gpio group (sudo usermod -aG gpio <user>)`,
        { cause: err },
      );
    }
    throw new OutputError("GPIO_SYSFS_UNREADABLE", `could not read ${root}: ${String(err)}`, { cause: err });
  }
  const chips: SysfsChip[] = [];
  for (const dir of entries.filter((e) => /^gpiochip\d+$/.test(e)).sort()) {
    const chip = await readChip(root, dir);
    if (chip) chips.push(chip);
  }
  return chips.sort((a, b) => a.base - b.base);
}

async function readChip(root: string, dir: string): Promise<SysfsChip | null> {
  try {
    const [label, base, ngpio] = await Promise.all(
      ["label", "base", "ngpio"].map((f) => readFile(join(root, dir, f), "utf8").then((s) => s.trim())),
    );
    const b = Number(base);
    const n = Number(ngpio);
    if (label === undefined || !Number.isInteger(b) || !Number.isInteger(n)) return null;
    return { dir, label, base: b, ngpio: n };
  } catch {
    // A chip we cannot read cannot be the one we need; the error below lists the chips we saw.
    return null;
  }
}

function describeChips(chips: readonly SysfsChip[]): string {
  if (chips.length === 0) return "no readable gpiochips";
  return chips.map((c) => `${c.dir} "${c.label}" (${c.ngpio} lines)`).join(", ");
}

function checkLine(line: number, what: string): void {
  if (!Number.isInteger(line) || line < 0) {
    throw new OutputError("GPIO_INVALID_PIN", `${what} must be a whole number >= 0 (got ${line})`);
  }
}

/** The sysfs GPIO number (what onoff's `new Gpio(n)` exports) for a pin reference. */
export async function resolveSysfsGpio(pin: PinRef, root: string = DEFAULT_SYSFS_GPIO_ROOT): Promise<number> {
  const chips = await listSysfsChips(root);
  if (typeof pin === "number") {
    checkLine(pin, "the GPIO number");
    const chip = HEADER_CHIP_LABELS.map((l) => chips.find((c) => c.label === l)).find((c) => c !== undefined);
    if (!chip) {
      throw new OutputError(
        "GPIO_CHIP_NOT_FOUND",
        `no Raspberry Pi header gpiochip (${HEADER_CHIP_LABELS.join(", ")}) under ${root}; found ` +
          `${describeChips(chips)}. On other boards give the line as { chip: "<label>", line: <n> }`,
      );
    }
    return lineOnChip(chip, pin, `GPIO${pin}`);
  }
  checkLine(pin.line, `line of chip "${pin.chip}"`);
  const byLabel = chips.filter((c) => c.label === pin.chip);
  if (byLabel.length > 1) {
    throw new OutputError(
      "GPIO_CHIP_AMBIGUOUS",
      `${byLabel.length} gpiochips are labelled "${pin.chip}" (${byLabel.map((c) => c.dir).join(", ")}); ` +
        "name the chip by its directory instead, e.g. { chip: \"" + (byLabel[0]?.dir ?? "") + "\", line: n }",
    );
  }
  // The directory name is accepted as an escape hatch for duplicate labels; it changes with the
  // kernel, so labels are preferred.
  const chip = byLabel[0] ?? chips.find((c) => c.dir === pin.chip);
  if (!chip) {
    throw new OutputError(
      "GPIO_CHIP_NOT_FOUND",
      `no gpiochip labelled "${pin.chip}" under ${root}; found ${describeChips(chips)}`,
    );
  }
  return lineOnChip(chip, pin.line, `line ${pin.line} of "${pin.chip}"`);
}

function lineOnChip(chip: SysfsChip, line: number, what: string): number {
  if (line >= chip.ngpio) {
    throw new OutputError(
      "GPIO_LINE_OUT_OF_RANGE",
      `${what} does not exist: ${chip.dir} "${chip.label}" has lines 0-${chip.ngpio - 1}; check the pin number`,
    );
  }
  return chip.base + line;
}
