import { afterEach, describe, expect, it } from "vitest";
import { OutputError } from "../../../../src/errors.js";
import { loadOnoffDriver, OnoffGpioDriver, rawLevel } from "../../../../src/outputs/gpio/line.js";
import { makeFakeOnoff } from "../../../fakes/fake-onoff.js";
import { makeSysfsTree, PI4_CHIPS, PI5_CHIPS } from "./sysfs-tree.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function setup(chips = PI4_CHIPS) {
  const t = makeSysfsTree(chips);
  cleanups.push(t.cleanup);
  const onoff = makeFakeOnoff();
  return { onoff, driver: new OnoffGpioDriver(onoff.Gpio, t.root) };
}

describe("rawLevel", () => {
  it("inverts for active-low lines only", () => {
    expect([rawLevel(true, false), rawLevel(false, false)]).toEqual([1, 0]);
    expect([rawLevel(true, true), rawLevel(false, true)]).toEqual([0, 1]);
  });
});

describe("OnoffGpioDriver", () => {
  it("exports the offset number and opens an active-high output at its off level", async () => {
    const { onoff, driver } = setup(PI5_CHIPS);
    const led = await driver.openOutput("led", { pin: 17, activeLow: false });
    const pin = onoff.pins[0]!;
    expect(pin.gpio).toBe(588);
    expect(pin.direction).toBe("low");
    // The kernel's active_low is reset so a value left by another program cannot invert us.
    expect(pin.options?.activeLow).toBe(false);
    led.write(true);
    led.write(false);
    expect(pin.rawWrites).toEqual([1, 0]);
  });

  it("drives an active-low line low for on, and opens it high so it never blips on", async () => {
    const { onoff, driver } = setup();
    const buzzer = await driver.openOutput("buzzer", { pin: 27, activeLow: true });
    const pin = onoff.pins[0]!;
    expect(pin.gpio).toBe(539);
    expect(pin.direction).toBe("high");
    buzzer.write(true);
    buzzer.write(false);
    expect(pin.rawWrites).toEqual([0, 1]);
  });

  it("opens the button as a debounced input on both edges and reports presses logically", async () => {
    const { onoff, driver } = setup();
    const button = await driver.openInput("button", { pin: 22, activeLow: true }, { debounceMs: 40 });
    const pin = onoff.pins[0]!;
    expect(pin.gpio).toBe(534);
    expect(pin.direction).toBe("in");
    expect(pin.edge).toBe("both");
    expect(pin.options).toEqual({ debounceTimeout: 40, activeLow: false });
    const seen: boolean[] = [];
    const errors: Error[] = [];
    button.watch((active) => seen.push(active), (err) => errors.push(err));
    pin.interrupt(0); // pulled to ground: pressed
    pin.interrupt(1);
    pin.interrupt(1, new Error("EIO"));
    expect(seen).toEqual([true, false]);
    expect(errors.map((e) => e.message)).toEqual(["EIO"]);
    button.release();
    button.release();
    expect(pin.unexported).toBe(true);
    pin.interrupt(0);
    expect(seen).toHaveLength(2);
  });

  it.each([
    ["EACCES", "GPIO_PERMISSION", "gpio group"],
    ["EBUSY", "GPIO_BUSY", "in use"],
    ["EINVAL", "GPIO_INVALID_LINE", "pin number"],
    ["EIO", "GPIO_OPEN_FAILED", "could not open"],
  ])("turns %s on export into %s with a fix", async (errno, code, hint) => {
    const { onoff, driver } = setup();
    onoff.failNextWith(errno);
    const err = await driver.openOutput("led", { pin: 17, activeLow: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).code).toBe(code);
    expect((err as OutputError).message).toContain(hint);
    expect((err as OutputError).message).toContain("led line (GPIO17, sysfs gpio529)");
    expect(((err as OutputError).cause as { code: string }).code).toBe(errno);
  });

  it("fails before exporting when the pin cannot be resolved", async () => {
    const { onoff, driver } = setup();
    const err = await driver.openOutput("led", { pin: { chip: "pinctrl-rp1", line: 1 }, activeLow: false }).catch(
      (e: unknown) => e,
    );
    expect((err as OutputError).code).toBe("GPIO_CHIP_NOT_FOUND");
    expect(onoff.pins).toHaveLength(0);
  });
});

describe("loadOnoffDriver", () => {
  it("reports a missing onoff as GPIO_UNAVAILABLE, naming the fix", async () => {
    const err = await loadOnoffDriver({
      importOnoff: () => Promise.reject(new Error("Cannot find package 'onoff'")),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).code).toBe("GPIO_UNAVAILABLE");
    expect((err as OutputError).message).toContain("npm install onoff");
    expect((err as OutputError).message).toContain("Cannot find package 'onoff'");
  });

  it("rejects a module without a Gpio class", async () => {
    const err = await loadOnoffDriver({ importOnoff: async () => ({ default: {} }) }).catch((e: unknown) => e);
    expect((err as OutputError).code).toBe("GPIO_UNAVAILABLE");
  });

  it("accepts the CommonJS default export shape", async () => {
    const { Gpio } = makeFakeOnoff();
    const driver = await loadOnoffDriver({ importOnoff: async () => ({ default: { Gpio } }) });
    expect(driver).toBeInstanceOf(OnoffGpioDriver);
  });
});
