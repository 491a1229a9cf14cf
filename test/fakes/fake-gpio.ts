/**
 * A GpioDriver with no hardware: it records every write (logical level, as the indicator means
 * it) with the monotonic time of the clock it is given, lets a test press the button, and can be
 * told to fail opening or writing a line.
 */
import type { Clock } from "../../src/clock.js";
import type { GpioDriver, GpioLine, InputLineOptions, LineSpec } from "../../src/outputs/gpio/line.js";

export interface FakeWrite {
  line: string;
  on: boolean;
  atMs: number;
}

export class FakeGpioLine implements GpioLine {
  /** Current logical level, null before the first write. */
  level: boolean | null = null;
  released = false;
  /** When set, `write` throws this. */
  writeError: Error | null = null;
  private listeners: { listener: (active: boolean) => void; onError?: (err: Error) => void }[] = [];

  constructor(
    readonly name: string,
    readonly spec: LineSpec,
    readonly direction: "in" | "out",
    readonly inputOptions: InputLineOptions | null,
    private readonly record: (w: FakeWrite) => void,
    private readonly now: () => number,
  ) {}

  write(on: boolean): void {
    if (this.released) throw new Error(`fake ${this.name} line written after release`);
    if (this.writeError) throw this.writeError;
    this.level = on;
    this.record({ line: this.name, on, atMs: this.now() });
  }

  watch(listener: (active: boolean) => void, onError?: (err: Error) => void): void {
    this.listeners.push({ listener, onError });
  }

  release(): void {
    this.released = true;
    this.listeners = [];
  }

  /** Deliver a debounced level change to the watchers, as the driver would. */
  emit(active: boolean): void {
    for (const l of [...this.listeners]) l.listener(active);
  }

  emitError(err: Error): void {
    for (const l of [...this.listeners]) l.onError?.(err);
  }

  watcherCount(): number {
    return this.listeners.length;
  }
}

export class FakeGpioDriver implements GpioDriver {
  readonly writes: FakeWrite[] = [];
  readonly lines = new Map<string, FakeGpioLine>();
  /** Opening a line of this name rejects with the error. */
  readonly openErrors = new Map<string, Error>();

  constructor(private readonly clock: Pick<Clock, "monotonicMs">) {}

  async openOutput(name: string, spec: LineSpec): Promise<GpioLine> {
    return this.open(name, spec, "out", null);
  }

  async openInput(name: string, spec: LineSpec, options: InputLineOptions): Promise<GpioLine> {
    return this.open(name, spec, "in", options);
  }

  private open(name: string, spec: LineSpec, direction: "in" | "out", options: InputLineOptions | null): FakeGpioLine {
    const err = this.openErrors.get(name);
    if (err) throw err;
    const line = new FakeGpioLine(name, spec, direction, options, (w) => this.writes.push(w), () =>
      this.clock.monotonicMs(),
    );
    this.lines.set(name, line);
    return line;
  }

  /** The line opened under `name`; throws if it was never opened. */
  line(name: string): FakeGpioLine {
    const l = this.lines.get(name);
    if (!l) throw new Error(`fake GPIO line "${name}" was not opened`);
    return l;
  }

  /** Current level of a line (false if never written). */
  isOn(name: string): boolean {
    return this.lines.get(name)?.level === true;
  }

  /** Writes to one line, in order. */
  writesTo(name: string): FakeWrite[] {
    return this.writes.filter((w) => w.line === name);
  }

  /** Press and release the button line. */
  press(name = "button"): void {
    this.line(name).emit(true);
    this.line(name).emit(false);
  }
}
