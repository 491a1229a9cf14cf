/**
 * Builds a /sys/class/gpio look-alike in a temp directory. The layouts are those of Raspberry Pi
 * OS Bookworm on kernel 6.6 as `ls /sys/class/gpio` and `gpiodetect` show them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ChipSpec {
  base: number;
  label: string;
  ngpio: number;
}

/** Pi 4: the header chip at 512, the firmware's expander after its 58 lines. */
export const PI4_CHIPS: ChipSpec[] = [
  { base: 512, label: "pinctrl-bcm2711", ngpio: 58 },
  { base: 570, label: "raspberrypi-exp-gpio", ngpio: 8 },
];

/** Pi 5: four brcmstb chips (32+4+17+6 lines) from 512, then the RP1 header chip at 571. */
export const PI5_CHIPS: ChipSpec[] = [
  { base: 512, label: "gpio-brcmstb@107d508500", ngpio: 32 },
  { base: 544, label: "gpio-brcmstb@107d508520", ngpio: 4 },
  { base: 548, label: "gpio-brcmstb@107d517c00", ngpio: 17 },
  { base: 565, label: "gpio-brcmstb@107d517c20", ngpio: 6 },
  { base: 571, label: "pinctrl-rp1", ngpio: 54 },
];

export function makeSysfsTree(chips: readonly ChipSpec[]): { root: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "earwitness-gpio-"));
  const root = join(dir, "gpio");
  mkdirSync(root);
  writeFileSync(join(root, "export"), "");
  writeFileSync(join(root, "unexport"), "");
  for (const c of chips) {
    const chipDir = join(root, `gpiochip${c.base}`);
    mkdirSync(chipDir);
    writeFileSync(join(chipDir, "base"), `${c.base}\n`);
    writeFileSync(join(chipDir, "label"), `${c.label}\n`);
    writeFileSync(join(chipDir, "ngpio"), `${c.ngpio}\n`);
  }
  return { root, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
