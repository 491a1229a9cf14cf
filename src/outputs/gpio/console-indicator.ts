/**
 * An LED and a buzzer on the console, for the demo on a laptop: the same GpioIndicator and
 * patterns as on the Pi, with lines that print their transitions ("LED on", "BUZZER off")
 * instead of driving pins. Chosen explicitly by the demo, never as a fallback for configured
 * hardware (STYLE.md §2).
 */
import type { Clock } from "../../clock.js";
import type { Logger } from "../../log.js";
import { DEFAULT_GPIO_OPTIONS, GpioIndicator, type GpioOptions } from "./indicator.js";
import type { GpioDriver, GpioLine } from "./line.js";
import type { PatternOptions } from "./patterns.js";

/** Prints line transitions; `press()` stands in for the acknowledge button (e.g. on Enter). */
export class ConsoleGpioDriver implements GpioDriver {
  private readonly buttonListeners: ((active: boolean) => void)[] = [];

  constructor(private readonly write: (line: string) => void) {}

  async openOutput(name: string): Promise<GpioLine> {
    const label = name.toUpperCase();
    let level: boolean | null = null;
    return {
      write: (on) => {
        if (on === level) return;
        level = on;
        this.write(`${label} ${on ? "on" : "off"}`);
      },
      watch: () => undefined,
      release: () => undefined,
    };
  }

  async openInput(): Promise<GpioLine> {
    return {
      write: () => undefined,
      watch: (listener) => {
        this.buttonListeners.push(listener);
      },
      release: () => {
        this.buttonListeners.length = 0;
      },
    };
  }

  /** Simulate a press and release of the acknowledge button. */
  press(): void {
    for (const l of [...this.buttonListeners]) l(true);
    for (const l of [...this.buttonListeners]) l(false);
  }
}

/** Where the console lines are "wired": the console driver ignores pins. */
const CONSOLE_LINE = { pin: 0, activeLow: false } as const;

/**
 * A GpioIndicator on the console. `write` defaults to the logger at info level; the demo may
 * pass a function that prints to the terminal.
 */
export function createConsoleIndicator(args: {
  clock: Clock;
  log: Logger;
  write?: (line: string) => void;
  options?: Partial<PatternOptions>;
  /** Also offer an acknowledge "button" driven by `driver.press()`. */
  button?: boolean;
}): { indicator: GpioIndicator; driver: ConsoleGpioDriver } {
  const log = args.log.child({ component: "console-indicator" });
  const driver = new ConsoleGpioDriver(args.write ?? ((line) => log.info(line)));
  const options: GpioOptions = {
    ...DEFAULT_GPIO_OPTIONS,
    // A heartbeat every few seconds would bury the demo's output.
    heartbeat: false,
    ...args.options,
    led: CONSOLE_LINE,
    buzzer: CONSOLE_LINE,
    button: args.button ? CONSOLE_LINE : null,
  };
  return { indicator: new GpioIndicator(driver, options, args.clock, log), driver };
}
