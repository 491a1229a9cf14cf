import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OutputError } from "../../../../src/errors.js";
import { listSysfsChips, resolveSysfsGpio } from "../../../../src/outputs/gpio/sysfs.js";
import { makeSysfsTree, PI4_CHIPS, PI5_CHIPS, type ChipSpec } from "./sysfs-tree.js";

const cleanups: (() => void)[] = [];
function tree(chips: readonly ChipSpec[]): string {
  const t = makeSysfsTree(chips);
  cleanups.push(t.cleanup);
  return t.root;
}
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutputError);
  return (err as OutputError).code;
}

describe("resolveSysfsGpio", () => {
  it("adds the Pi 4 header chip's base (512) to a BCM number", async () => {
    const root = tree(PI4_CHIPS);
    expect(await resolveSysfsGpio(17, root)).toBe(529);
    expect(await resolveSysfsGpio(0, root)).toBe(512);
  });

  it("uses the RP1 chip on a Pi 5 (base 571), not the first chip", async () => {
    const root = tree(PI5_CHIPS);
    expect(await resolveSysfsGpio(17, root)).toBe(588);
    expect(await resolveSysfsGpio(27, root)).toBe(598);
  });

  it("keeps base 0 on older kernels and Pi 1-3 (pinctrl-bcm2835)", async () => {
    expect(await resolveSysfsGpio(4, tree([{ base: 0, label: "pinctrl-bcm2835", ngpio: 54 }]))).toBe(4);
  });

  it("resolves a line on a chip named by label, or by directory", async () => {
    const root = tree(PI5_CHIPS);
    expect(await resolveSysfsGpio({ chip: "gpio-brcmstb@107d517c00", line: 3 }, root)).toBe(551);
    expect(await resolveSysfsGpio({ chip: "pinctrl-rp1", line: 0 }, root)).toBe(571);
    expect(await resolveSysfsGpio({ chip: "gpiochip544", line: 1 }, root)).toBe(545);
  });

  it("rejects a chip label that is not there, listing the chips it found", async () => {
    const root = tree(PI4_CHIPS);
    const err = await resolveSysfsGpio({ chip: "pinctrl-rp1", line: 2 }, root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).code).toBe("GPIO_CHIP_NOT_FOUND");
    expect((err as OutputError).message).toContain('gpiochip512 "pinctrl-bcm2711"');
  });

  it("rejects a bare number when no Raspberry Pi header chip exists", async () => {
    const root = tree([{ base: 0, label: "tegra234-gpio", ngpio: 164 }]);
    const err = await resolveSysfsGpio(17, root).catch((e: unknown) => e);
    expect((err as OutputError).code).toBe("GPIO_CHIP_NOT_FOUND");
    expect((err as OutputError).message).toContain('{ chip: "<label>", line: <n> }');
  });

  it("rejects a line beyond the chip's ngpio", async () => {
    const root = tree(PI5_CHIPS);
    expect(await codeOf(resolveSysfsGpio(54, root))).toBe("GPIO_LINE_OUT_OF_RANGE");
    expect(await codeOf(resolveSysfsGpio({ chip: "raspberrypi-exp-gpio", line: 8 }, tree(PI4_CHIPS)))).toBe(
      "GPIO_LINE_OUT_OF_RANGE",
    );
    expect(await resolveSysfsGpio(53, root)).toBe(624);
  });

  it("rejects negative and fractional numbers", async () => {
    const root = tree(PI4_CHIPS);
    expect(await codeOf(resolveSysfsGpio(-1, root))).toBe("GPIO_INVALID_PIN");
    expect(await codeOf(resolveSysfsGpio({ chip: "pinctrl-bcm2711", line: 1.5 }, root))).toBe("GPIO_INVALID_PIN");
  });

  it("refuses to guess between two chips with the same label", async () => {
    const root = tree([
      { base: 512, label: "gpio-dup", ngpio: 8 },
      { base: 520, label: "gpio-dup", ngpio: 8 },
    ]);
    expect(await codeOf(resolveSysfsGpio({ chip: "gpio-dup", line: 1 }, root))).toBe("GPIO_CHIP_AMBIGUOUS");
    expect(await resolveSysfsGpio({ chip: "gpiochip520", line: 1 }, root)).toBe(521);
  });

  it("says so clearly when there is no /sys/class/gpio", async () => {
    const root = tree([]);
    const err = await resolveSysfsGpio(17, join(root, "missing")).catch((e: unknown) => e);
    expect((err as OutputError).code).toBe("GPIO_SYSFS_MISSING");
    expect((err as OutputError).cause).toBeDefined();
  });

  it("lists chips sorted by base and skips unreadable ones", async () => {
    const root = tree([...PI5_CHIPS].reverse());
    mkdirSync(join(root, "gpiochip999")); // no label, base or ngpio
    const chips = await listSysfsChips(root);
    expect(chips.map((c) => c.base)).toEqual([512, 544, 548, 565, 571]);
    expect(chips[4]).toEqual({ dir: "gpiochip571", label: "pinctrl-rp1", base: 571, ngpio: 54 });
  });
});
