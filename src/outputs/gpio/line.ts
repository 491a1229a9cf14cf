/**
 * GPIO lines behind a tiny interface (STYLE.md §2): the indicator only ever says "LED on",
 * "buzzer off", "tell me when the button is pressed". Wiring polarity, sysfs numbering and the
 * `onoff` library stay in this file and in sysfs.ts, so the indicator is tested with
 * test/fakes/fake-gpio.ts and this file is tested with a fake `onoff` Gpio class.
 */
import { OutputError } from "../../errors.js";
import { DEFAULT_SYSFS_GPIO_ROOT, resolveSysfsGpio, type PinRef } from "./sysfs.js";

/** Where a line is wired and how. */
export interface LineSpec {
  /** A BCM GPIO number (header numbering, e.g. 17 for pin 11), or a line on a named gpiochip. */
  pin: PinRef;
  /**
   * True when the device is on while the pin is low (an LED wired from 3.3 V through the pin,
   * most relay and buzzer boards, a button wired to ground with a pull-up).
   */
  activeLow: boolean;
}

/**
 * One opened line, in logical terms: `true` always means LED lit, buzzer sounding, button
 * pressed, whatever the wiring.
 *
 * Writes are synchronous on purpose: a sysfs value write is a single short syscall, a sync write
 * keeps transitions strictly ordered (no overlapping async writes racing each other at a 50 ms
 * tick), and the exit path (`process.on("exit")`) can only run synchronous code.
 */
export interface GpioLine {
  /** Drive an output line. Throws on failure; the caller decides how to report it. */
  write(on: boolean): void;
  /** Listen to an input line; `active` is true while pressed. Debounced by the driver. */
  watch(listener: (active: boolean) => void, onError?: (err: Error) => void): void;
  /** Stop watching and give the line back to the kernel. Never throws. */
  release(): void;
}

export interface InputLineOptions {
  /** Edges closer together than this are merged (contact bounce of a push button). */
  debounceMs: number;
}

/** Opens lines. `name` ("led", "buzzer", "button") is only used in messages. */
export interface GpioDriver {
  openOutput(name: string, spec: LineSpec): Promise<GpioLine>;
  openInput(name: string, spec: LineSpec, options: InputLineOptions): Promise<GpioLine>;
}

/** The part of `onoff`'s Gpio class we use (onoff 6, https://github.com/fivdi/onoff). */
export interface OnoffGpio {
  writeSync(value: 0 | 1): void;
  watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

export type OnoffDirection = "in" | "out" | "high" | "low";
export type OnoffEdge = "none" | "rising" | "falling" | "both";

export type OnoffGpioConstructor = new (
  gpio: number,
  direction: OnoffDirection,
  edge?: OnoffEdge,
  options?: { debounceTimeout?: number; activeLow?: boolean; reconfigureDirection?: boolean },
) => OnoffGpio;

/** Logical → electrical level. Kept here, not in the kernel's `active_low`, see OnoffGpioDriver. */
export function rawLevel(on: boolean, activeLow: boolean): 0 | 1 {
  return on !== activeLow ? 1 : 0;
}

function describeSpec(spec: LineSpec): string {
  return typeof spec.pin === "number" ? `GPIO${spec.pin}` : `${spec.pin.chip} line ${spec.pin.line}`;
}

/** Turn the errno of a failed export/configure into an error that says what to do. */
export function openError(name: string, spec: LineSpec, sysfsNumber: number, cause: unknown): OutputError {
  const where = `${name} line (${describeSpec(spec)}, sysfs gpio${sysfsNumber})`;
  const code = (cause as { code?: unknown } | null)?.code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return new OutputError(
        "GPIO_PERMISSION",
        `not permitted to open the ${where}; add the service user to the gpio group ` +
          "(sudo usermod -aG gpio <user>) and restart the service, or log in again",
        { cause },
      );
    case "EBUSY":
      return new OutputError(
        "GPIO_BUSY",
        `the ${where} is in use by a kernel driver or another program; free it (check dtoverlay= ` +
          "lines in /boot/firmware/config.txt, `gpioinfo`) or choose another pin",
        { cause },
      );
    case "EINVAL":
      return new OutputError(
        "GPIO_INVALID_LINE",
        `the kernel rejected the ${where}; check the pin number, or give the line as ` +
          "{ chip: <label from /sys/class/gpio/gpiochip*/label>, line: <n> }",
        { cause },
      );
    case "ENOENT":
      return new OutputError(
        "GPIO_SYSFS_MISSING",
        `the sysfs files of the ${where} do not exist; this kernel may lack CONFIG_GPIO_SYSFS`,
        { cause },
      );
    default:
      return new OutputError("GPIO_OPEN_FAILED", `could not open the ${where}: ${String(cause)}`, { cause });
  }
}

/**
 * GPIO through `onoff` (the sysfs interface).
 *
 * Polarity is applied here rather than with onoff's `activeLow` option: the sysfs `direction`
 * values "high"/"low" set the *raw* level (gpiolib-sysfs calls gpiod_direction_output_raw), so
 * opening an active-low buzzer as "out" or "low" would sound it for an instant at every start.
 * We open outputs directly at their raw *off* level and reset the kernel's active_low to 0, so a
 * value left behind by an earlier program cannot invert us.
 */
export class OnoffGpioDriver implements GpioDriver {
  constructor(
    private readonly Gpio: OnoffGpioConstructor,
    private readonly sysfsRoot: string = DEFAULT_SYSFS_GPIO_ROOT,
  ) {}

  async openOutput(name: string, spec: LineSpec): Promise<GpioLine> {
    const n = await resolveSysfsGpio(spec.pin, this.sysfsRoot);
    let gpio: OnoffGpio;
    try {
      gpio = new this.Gpio(n, rawLevel(false, spec.activeLow) === 1 ? "high" : "low", "none", { activeLow: false });
    } catch (err) {
      throw openError(name, spec, n, err);
    }
    return new OnoffLine(gpio, spec.activeLow);
  }

  async openInput(name: string, spec: LineSpec, options: InputLineOptions): Promise<GpioLine> {
    const n = await resolveSysfsGpio(spec.pin, this.sysfsRoot);
    let gpio: OnoffGpio;
    try {
      // "both" edges: the debounced handler reads the settled level, so a press and a release
      // each arrive once, and we act on the press.
      gpio = new this.Gpio(n, "in", "both", { debounceTimeout: options.debounceMs, activeLow: false });
    } catch (err) {
      throw openError(name, spec, n, err);
    }
    return new OnoffLine(gpio, spec.activeLow);
  }
}

class OnoffLine implements GpioLine {
  private released = false;

  constructor(
    private readonly gpio: OnoffGpio,
    private readonly activeLow: boolean,
  ) {}

  write(on: boolean): void {
    this.gpio.writeSync(rawLevel(on, this.activeLow));
  }

  watch(listener: (active: boolean) => void, onError?: (err: Error) => void): void {
    this.gpio.watch((err, value) => {
      if (err) {
        onError?.(err);
        return;
      }
      listener((value === 1) !== this.activeLow);
    });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.gpio.unwatchAll();
      this.gpio.unexport();
    } catch {
      // Releasing happens on the way out; the kernel frees the line when the process exits anyway.
    }
  }
}

/**
 * Load the optional `onoff` dependency and return a driver. `onoff` needs a native module
 * (epoll) and may be absent; configured GPIO must then fail loudly at startup, never become a
 * silent no-op. `importOnoff` is a seam for the test of that failure.
 */
export async function loadOnoffDriver(
  options: { sysfsRoot?: string; importOnoff?: () => Promise<unknown> } = {},
): Promise<OnoffGpioDriver> {
  // A computed specifier keeps tsc from requiring onoff's types on machines where the optional
  // install was skipped.
  const specifier = "onoff";
  const importOnoff = options.importOnoff ?? (() => import(specifier) as Promise<unknown>);
  let mod: unknown;
  try {
    mod = await importOnoff();
  } catch (err) {
    throw unavailable(err);
  }
  const m = mod as { Gpio?: unknown; default?: { Gpio?: unknown } } | null;
  const Gpio = m?.Gpio ?? m?.default?.Gpio;
  if (typeof Gpio !== "function") throw unavailable(new Error("the onoff module has no Gpio export"));
  return new OnoffGpioDriver(Gpio as OnoffGpioConstructor, options.sysfsRoot);
}

function unavailable(cause: unknown): OutputError {
  return new OutputError(
    "GPIO_UNAVAILABLE",
    "GPIO is configured but the optional dependency onoff could not be loaded " +
      `(${cause instanceof Error ? cause.message : String(cause)}); install it with build tools present ` +
      "(sudo apt install build-essential python3 && npm install onoff), or remove the gpio lines from the config",
    { cause },
  );
}
