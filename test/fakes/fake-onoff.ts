/**
 * A stand-in for `onoff`'s Gpio class, to test OnoffGpioDriver without /sys/class/gpio: it
 * records how each line was exported and every raw level written, and can fail the export with
 * an errno code as the kernel would.
 */
import type { OnoffDirection, OnoffEdge, OnoffGpio, OnoffGpioConstructor } from "../../src/outputs/gpio/line.js";

export interface FakeOnoffPin extends OnoffGpio {
  readonly gpio: number;
  readonly direction: OnoffDirection;
  readonly edge?: OnoffEdge;
  readonly options?: { debounceTimeout?: number; activeLow?: boolean };
  /** Raw levels written, in order. */
  readonly rawWrites: (0 | 1)[];
  unexported: boolean;
  /** Deliver an interrupt with this raw value to the watchers. */
  interrupt(value: 0 | 1, err?: Error): void;
}

export function makeFakeOnoff(): {
  Gpio: OnoffGpioConstructor;
  pins: FakeOnoffPin[];
  /** The next construction throws an error with this errno code. */
  failNextWith(code: string): void;
} {
  const pins: FakeOnoffPin[] = [];
  let failCode: string | null = null;

  class FakeGpio implements FakeOnoffPin {
    readonly rawWrites: (0 | 1)[] = [];
    unexported = false;
    private watchers: ((err: Error | null | undefined, value: 0 | 1) => void)[] = [];

    constructor(
      readonly gpio: number,
      readonly direction: OnoffDirection,
      readonly edge?: OnoffEdge,
      readonly options?: { debounceTimeout?: number; activeLow?: boolean },
    ) {
      if (failCode) {
        const code = failCode;
        failCode = null;
        throw Object.assign(new Error(`${code}: fake export of gpio${gpio} failed`), { code });
      }
      pins.push(this);
    }

    writeSync(value: 0 | 1): void {
      if (this.unexported) throw new Error("EBADF: write after unexport");
      this.rawWrites.push(value);
    }

    watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void {
      this.watchers.push(callback);
    }

    unwatchAll(): void {
      this.watchers = [];
    }

    unexport(): void {
      this.unexported = true;
    }

    interrupt(value: 0 | 1, err?: Error): void {
      for (const w of [...this.watchers]) w(err ?? null, value);
    }
  }

  return {
    Gpio: FakeGpio,
    pins,
    failNextWith(code) {
      failCode = code;
    },
  };
}
