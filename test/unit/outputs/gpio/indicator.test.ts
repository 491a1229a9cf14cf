import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { OutputError } from "../../../../src/errors.js";
import { DEFAULT_GPIO_OPTIONS, GpioIndicator, type GpioOptions } from "../../../../src/outputs/gpio/indicator.js";
import { OnoffGpioDriver } from "../../../../src/outputs/gpio/line.js";
import type { AlertEvent, DeviceStatus } from "../../../../src/outputs/sink.js";
import { FakeClock } from "../../../fakes/fake-clock.js";
import { FakeGpioDriver } from "../../../fakes/fake-gpio.js";
import { makeFakeOnoff } from "../../../fakes/fake-onoff.js";
import { makeSysfsTree, PI4_CHIPS } from "./sysfs-tree.js";

function captureLogger() {
  const records: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void records.push(JSON.parse(s)) });
  return { log, records, errors: () => records.filter((r) => r.level >= 50) };
}

const OPTIONS: GpioOptions = {
  ...DEFAULT_GPIO_OPTIONS,
  heartbeat: false,
  buzzerMaxOnMs: 10_000,
  buzzerPatternMs: [500, 500],
  testAlertMs: 3000,
  led: { pin: 17, activeLow: false },
  buzzer: { pin: 27, activeLow: false },
  button: { pin: 22, activeLow: true },
};

function setup(over: Partial<GpioOptions> = {}) {
  const clock = new FakeClock();
  const gpio = new FakeGpioDriver(clock);
  const logs = captureLogger();
  const indicator = new GpioIndicator(gpio, { ...OPTIONS, ...over }, clock, logs.log);
  return { clock, gpio, logs, indicator };
}

function status(clock: FakeClock, over: Partial<DeviceStatus> = {}): DeviceStatus {
  return {
    state: "IDLE",
    danger: 0,
    emotion: null,
    dangerEmotion: null,
    sinceMs: clock.nowMs(),
    armed: true,
    mutedUntilMs: null,
    muteMinutes: 0,
    problems: [],
    problemMessages: {},
    acknowledged: false,
    ...over,
  };
}

function alertEvent(clock: FakeClock, phase: "start" | "end", over: Partial<AlertEvent> = {}): AlertEvent {
  return {
    phase,
    alertId: "a1",
    startedAtMs: clock.nowMs(),
    ...(phase === "end" ? { endedAtMs: clock.nowMs() } : {}),
    peak: 0.9,
    mean: 0.8,
    emotion: "fear",
    probs: { fear: 0.9 },
    dbfs: -20,
    test: false,
    thresholds: {},
    ...over,
  };
}

/** Times (relative to t0) at which `line` was switched on/off, from the fake's record. */
function transitions(gpio: FakeGpioDriver, line: string, t0: number): [number, boolean][] {
  return gpio.writesTo(line).map((w) => [w.atMs - t0, w.on]);
}

describe("GpioIndicator lifecycle", () => {
  it("opens the configured lines, starts with everything off, and stops idempotently", async () => {
    const { clock, gpio, indicator } = setup();
    await Promise.all([indicator.start(), indicator.start()]);
    expect([...gpio.lines.keys()]).toEqual(["led", "buzzer", "button"]);
    expect(gpio.line("button").direction).toBe("in");
    expect(gpio.line("button").inputOptions).toEqual({ debounceMs: 50 });
    expect(gpio.writes.map((w) => [w.line, w.on])).toEqual([
      ["led", false],
      ["buzzer", false],
    ]);
    expect(clock.pendingTimers()).toBe(1);
    await indicator.alert(alertEvent(clock, "start"));
    expect(gpio.isOn("led") && gpio.isOn("buzzer")).toBe(true);
    await indicator.stop();
    await indicator.stop();
    expect(gpio.isOn("led") || gpio.isOn("buzzer")).toBe(false);
    expect([...gpio.lines.values()].every((l) => l.released)).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    const count = gpio.writes.length;
    clock.advance(5000);
    await indicator.alert(alertEvent(clock, "start", { alertId: "a2" }));
    expect(gpio.writes.length).toBe(count);
  });

  it("opens only the lines that are configured", async () => {
    const { gpio, indicator } = setup({ buzzer: null, button: null });
    await indicator.start();
    expect([...gpio.lines.keys()]).toEqual(["led"]);
    await indicator.stop();
  });

  it("fails start with the driver's error and releases lines it had opened", async () => {
    const { gpio, indicator } = setup();
    const cause = new OutputError("GPIO_PERMISSION", "add the user to the gpio group");
    gpio.openErrors.set("button", cause);
    await expect(indicator.start()).rejects.toBe(cause);
    expect(gpio.line("led").released).toBe(true);
    expect(gpio.line("buzzer").released).toBe(true);
    await indicator.stop();
  });

  it("shows the heartbeat from the injected clock", async () => {
    const { clock, gpio, indicator } = setup({ heartbeat: true });
    await indicator.status(status(clock));
    await indicator.start();
    clock.advance(12_000);
    const on = gpio.writesTo("led").filter((w) => w.on);
    expect(on.length).toBe(3);
    expect(gpio.writesTo("buzzer").filter((w) => w.on)).toEqual([]);
    await indicator.stop();
  });
});

describe("GpioIndicator alerts", () => {
  it("beeps from the moment alert() is called, and stops the buzzer after buzzerMaxOnMs", async () => {
    const { clock, gpio, indicator } = setup({ buzzerMaxOnMs: 2000 });
    await indicator.start();
    clock.advance(123);
    const t0 = clock.monotonicMs();
    await indicator.alert(alertEvent(clock, "start"));
    await indicator.status(status(clock, { state: "ALERT" }));
    clock.advance(10_000);
    expect(transitions(gpio, "buzzer", t0)).toEqual([
      [-123, false],
      [0, true],
      [500, false],
      [1000, true],
      [1500, false],
    ]);
    expect(transitions(gpio, "led", t0)).toEqual([
      [-123, false],
      [0, true],
    ]);
    await indicator.stop();
  });

  it("ends when the detector leaves ALERT/HOLD, even if the end event never comes", async () => {
    const { clock, gpio, indicator } = setup();
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start"));
    await indicator.status(status(clock, { state: "ALERT" }));
    clock.advance(1000);
    await indicator.status(status(clock, { state: "HOLD" }));
    clock.advance(1000);
    expect(gpio.isOn("led")).toBe(true);
    await indicator.status(status(clock, { state: "COOLDOWN" }));
    expect(gpio.isOn("led") || gpio.isOn("buzzer")).toBe(false);
    await indicator.alert(alertEvent(clock, "end"));
    clock.advance(1000);
    expect(gpio.isOn("led")).toBe(false);
    await indicator.stop();
  });

  it("stays on after the end event while the status still says HOLD, and while the status lags the start", async () => {
    const { clock, gpio, indicator } = setup();
    await indicator.status(status(clock, { state: "SUSPECT" }));
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start"));
    expect(gpio.isOn("led")).toBe(true);
    // The status has not caught up: still SUSPECT. The alert must not be dropped.
    await indicator.status(status(clock, { state: "SUSPECT" }));
    expect(gpio.isOn("led")).toBe(true);
    await indicator.status(status(clock, { state: "HOLD" }));
    await indicator.alert(alertEvent(clock, "end"));
    expect(gpio.isOn("led")).toBe(true);
    await indicator.status(status(clock, { state: "IDLE" }));
    expect(gpio.isOn("led")).toBe(false);
    await indicator.stop();
  });

  it("keeps the buzzer limit from the first sign of the alert (status before event)", async () => {
    const { clock, gpio, indicator } = setup({ buzzerMaxOnMs: 3000, buzzerPatternMs: [1000, 0] });
    await indicator.start();
    const t0 = clock.monotonicMs();
    await indicator.status(status(clock, { state: "ALERT" }));
    clock.advance(2000);
    await indicator.alert(alertEvent(clock, "start"));
    clock.advance(5000);
    expect(transitions(gpio, "buzzer", t0)).toEqual([
      [0, false],
      [0, true],
      [3000, false],
    ]);
    await indicator.stop();
  });

  it("sounds again for a new alert after the previous one's buzzer ran out", async () => {
    const { clock, gpio, indicator } = setup({ buzzerMaxOnMs: 1000, buzzerPatternMs: [1000, 0] });
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start", { alertId: "a1" }));
    clock.advance(5000);
    expect(gpio.isOn("buzzer")).toBe(false);
    await indicator.alert(alertEvent(clock, "start", { alertId: "a2" }));
    expect(gpio.isOn("buzzer")).toBe(true);
    await indicator.stop();
  });

  it("measures the buzzer limit on the monotonic clock, not the wall clock", async () => {
    const { clock, gpio, indicator } = setup({ buzzerMaxOnMs: 5000, buzzerPatternMs: [1000, 0] });
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start"));
    clock.advance(1000);
    clock.jumpWallClock(3_600_000); // NTP sets the clock of a Pi without RTC
    clock.advance(1000);
    expect(gpio.isOn("buzzer")).toBe(true);
    clock.advance(3000);
    expect(gpio.isOn("buzzer")).toBe(false);
    await indicator.stop();
  });

  it("muted: LED on, buzzer silent", async () => {
    const { clock, gpio, indicator } = setup();
    await indicator.start();
    await indicator.status(status(clock, { state: "ALERT", mutedUntilMs: clock.nowMs() + 60_000 }));
    clock.advance(3000);
    expect(gpio.isOn("led")).toBe(true);
    expect(gpio.writesTo("buzzer").some((w) => w.on)).toBe(false);
    await indicator.stop();
  });

  it("test alert: shown for testAlertMs even when its end arrives at once", async () => {
    const { clock, gpio, indicator } = setup();
    await indicator.start();
    const t0 = clock.monotonicMs();
    await indicator.alert(alertEvent(clock, "start", { test: true, alertId: "t1" }));
    await indicator.alert(alertEvent(clock, "end", { test: true, alertId: "t1" }));
    clock.advance(10_000);
    expect(transitions(gpio, "led", t0)).toEqual([
      [0, false],
      [0, true],
      [3000, false],
    ]);
    expect(transitions(gpio, "buzzer", t0).at(-1)).toEqual([2500, false]);
    await indicator.stop();
  });
});

describe("GpioIndicator button", () => {
  it("silences the buzzer at once, keeps the LED, and tells the listeners", async () => {
    const { clock, gpio, logs, indicator } = setup();
    const presses: number[] = [];
    indicator.onButton(() => {
      throw new Error("listener bug");
    });
    const off = indicator.onButton(() => presses.push(clock.monotonicMs()));
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start"));
    await indicator.status(status(clock, { state: "ALERT" }));
    clock.advance(200);
    gpio.press();
    expect(presses).toEqual([clock.monotonicMs()]);
    expect(gpio.isOn("buzzer")).toBe(false);
    expect(gpio.isOn("led")).toBe(true);
    clock.advance(5000);
    expect(gpio.isOn("buzzer")).toBe(false);
    expect(gpio.isOn("led")).toBe(true);
    expect(logs.errors().some((r) => r.msg === "acknowledge button listener failed")).toBe(true);
    off();
    gpio.press();
    expect(presses).toHaveLength(1);
    // A release alone is not a press.
    gpio.line("button").emit(false);
    expect(presses).toHaveLength(1);
    await indicator.stop();
  });

  it("logs button line errors instead of throwing", async () => {
    const { gpio, logs, indicator } = setup();
    await indicator.start();
    gpio.line("button").emitError(new Error("EIO"));
    expect(logs.errors().some((r) => r.msg === "acknowledge button failed")).toBe(true);
    await indicator.stop();
  });

  it("the daemon's acknowledgement in the status silences the buzzer too", async () => {
    const { clock, gpio, indicator } = setup();
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start"));
    await indicator.status(status(clock, { state: "ALERT" }));
    expect(gpio.isOn("buzzer")).toBe(true);
    await indicator.status(status(clock, { state: "ALERT", acknowledged: true }));
    expect(gpio.isOn("buzzer")).toBe(false);
    expect(gpio.isOn("led")).toBe(true);
    await indicator.stop();
  });
});

describe("GpioIndicator failures and exit", () => {
  it("reports a failing line once, keeps the other line working, and recovers", async () => {
    const { clock, gpio, logs, indicator } = setup();
    await indicator.start();
    gpio.line("buzzer").writeError = Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
    await expect(indicator.alert(alertEvent(clock, "start"))).resolves.toBeUndefined();
    clock.advance(2000);
    expect(gpio.isOn("led")).toBe(true);
    const failures = logs.errors().filter((r) => r.msg === "GPIO line write failed");
    expect(failures).toHaveLength(1);
    expect((failures[0]?.err as { code?: string }).code).toBe("GPIO_WRITE_FAILED");
    expect(indicator.problems()).toEqual(["GPIO buzzer line failing: EIO: i/o error, write"]);
    gpio.line("buzzer").writeError = null;
    clock.advance(500);
    expect(indicator.problems()).toEqual([]);
    expect(gpio.writesTo("buzzer").length).toBeGreaterThan(1);
    await indicator.stop();
  });

  it("offNow switches everything off synchronously and nothing turns it back on", async () => {
    const { clock, gpio, indicator } = setup();
    await indicator.start();
    await indicator.alert(alertEvent(clock, "start"));
    gpio.line("led").writeError = new Error("EIO");
    expect(() => indicator.offNow()).not.toThrow();
    expect(gpio.isOn("buzzer")).toBe(false);
    gpio.line("led").writeError = null;
    indicator.offNow();
    expect(gpio.isOn("led")).toBe(false);
    const count = gpio.writes.length;
    await indicator.status(status(clock, { state: "ALERT" }));
    clock.advance(5000);
    expect(gpio.writes.length).toBe(count);
    await indicator.stop();
    expect(gpio.line("led").released).toBe(true);
  });
});

describe("GpioIndicator on onoff", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("drives an active-low buzzer low while sounding and high when stopped", async () => {
    const tree = makeSysfsTree(PI4_CHIPS);
    cleanups.push(tree.cleanup);
    const onoff = makeFakeOnoff();
    const clock = new FakeClock();
    const indicator = new GpioIndicator(
      new OnoffGpioDriver(onoff.Gpio, tree.root),
      { ...OPTIONS, buzzer: { pin: 27, activeLow: true }, button: null, buzzerPatternMs: [500, 500] },
      clock,
      captureLogger().log,
    );
    await indicator.start();
    const [led, buzzer] = onoff.pins;
    expect([led?.gpio, buzzer?.gpio]).toEqual([529, 539]);
    expect(buzzer?.direction).toBe("high");
    await indicator.alert(alertEvent(clock, "start"));
    clock.advance(1200);
    await indicator.stop();
    expect(led?.rawWrites).toEqual([0, 1, 0]);
    expect(buzzer?.rawWrites).toEqual([1, 0, 1, 0, 1]);
    expect(led?.unexported && buzzer?.unexported).toBe(true);
  });
});
