/**
 * The LED, buzzer and acknowledge button as an AlertSink.
 *
 * It keeps what it was told (the latest status, the alert under way), samples the pure
 * `indicatorOutputs` on a short timer from the injected Clock, and writes a line only when its
 * level changes. It never waits on anything but its own synchronous line writes, so the
 * buzzer sounds as soon as `alert()` is called, whatever MQTT is doing.
 */
import type { Clock, TimerHandle } from "../../clock.js";
import { describeError, OutputError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { AlertEvent, AlertSink, DeviceStatus } from "../sink.js";
import type { GpioDriver, GpioLine, LineSpec } from "./line.js";
import {
  indicatorOutputs,
  statusAlerting,
  testAlarmActive,
  type AlarmContext,
  type IndicatorMode,
  type PatternOptions,
} from "./patterns.js";

export interface GpioOptions extends PatternOptions {
  led: LineSpec | null;
  buzzer: LineSpec | null;
  /** Acknowledge button, or null for none. */
  button: LineSpec | null;
  buttonDebounceMs: number;
}

/** Sampling period of the patterns: fine enough for a 100 ms blink, idle enough for a Pi Zero. */
export const INDICATOR_TICK_MS = 50;

export const DEFAULT_GPIO_OPTIONS: Omit<GpioOptions, "led" | "buzzer" | "button"> = {
  heartbeat: true,
  buzzerMaxOnMs: 60_000,
  buzzerPatternMs: [500, 500],
  testAlertMs: 3000,
  buttonDebounceMs: 50,
};

type OutputName = "led" | "buzzer";

interface OutputLine {
  name: OutputName;
  line: GpioLine;
  /** Last level written successfully; null when unknown (not yet written, or the write failed). */
  level: boolean | null;
  /** Error of the last failed write, while failing. */
  failing: string | null;
}

interface RealAlarm extends AlarmContext {
  alertId: string | null;
  /** Open because an alert "start" event arrived and its "end" has not. */
  byEvent: boolean;
  /** Open because the status says ALERT or HOLD. */
  byStatus: boolean;
}

export class GpioIndicator implements AlertSink {
  readonly name = "gpio";
  private outputs: OutputLine[] = [];
  private button: GpioLine | null = null;
  private timer: TimerHandle | null = null;
  private running = false;
  /** Set by offNow(): nothing but "off" is written any more. */
  private halted = false;
  private starting: Promise<void> | null = null;
  private lastStatus: DeviceStatus | null = null;
  private alarm: RealAlarm | null = null;
  private testAlarm: AlarmContext | null = null;
  private lastMode: IndicatorMode | null = null;
  private readonly buttonListeners = new Set<() => void>();

  constructor(
    private readonly driver: GpioDriver,
    private readonly options: GpioOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Open the lines, switch them off and start the pattern timer. Throws OutputError. */
  async start(): Promise<void> {
    if (this.running) return;
    this.starting ??= this.open().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    const opened: OutputLine[] = [];
    let button: GpioLine | null = null;
    try {
      for (const name of ["led", "buzzer"] as const) {
        const spec = this.options[name];
        if (spec) opened.push({ name, line: await this.driver.openOutput(name, spec), level: null, failing: null });
      }
      if (this.options.button) {
        button = await this.driver.openInput("button", this.options.button, {
          debounceMs: this.options.buttonDebounceMs,
        });
      }
    } catch (err) {
      for (const o of opened) o.line.release();
      throw err;
    }
    this.outputs = opened;
    this.button = button;
    this.halted = false;
    button?.watch(
      (pressed) => {
        if (pressed) this.buttonPressed();
      },
      (err) => this.log.error({ err }, "acknowledge button failed"),
    );
    // Start from a known state: every output off, written even if it already was.
    for (const o of this.outputs) this.writeLine(o, false);
    this.running = true;
    this.log.info(
      { lines: [...this.outputs.map((o) => o.name), ...(button ? ["button"] : [])] },
      "GPIO indicator started",
    );
    this.tick();
  }

  /** Switch every output off and release the lines. */
  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    if (!this.running) return;
    this.running = false;
    this.cancelTimer();
    for (const o of this.outputs) this.writeLine(o, false);
    for (const o of this.outputs) o.line.release();
    this.button?.release();
    this.outputs = [];
    this.button = null;
    this.log.info("GPIO indicator stopped");
  }

  /**
   * Synchronous "everything off", for `process.on("exit")` and fatal-signal paths where nothing
   * asynchronous runs any more. Never throws; the lines stay open (the process is ending).
   */
  offNow(): void {
    this.halted = true;
    this.cancelTimer();
    for (const o of this.outputs) {
      try {
        o.line.write(false);
        o.level = false;
      } catch {
        // Nothing more can be done on the way out; the kernel keeps the last level.
      }
    }
  }

  /** Called on every debounced press of the acknowledge button. Returns an unsubscribe function. */
  onButton(listener: () => void): () => void {
    this.buttonListeners.add(listener);
    return () => this.buttonListeners.delete(listener);
  }

  /** Lines whose last write failed, as readable problems the daemon can publish. */
  problems(): string[] {
    return this.outputs.filter((o) => o.failing !== null).map((o) => `GPIO ${o.name} line failing: ${o.failing}`);
  }

  async alert(event: AlertEvent): Promise<void> {
    const monoMs = this.clock.monotonicMs();
    if (event.test) {
      // A test alert runs its fixed, short course; an "end" event does not cut it short, so a
      // test that starts and ends at once is still seen and heard.
      if (event.phase === "start") this.testAlarm = { startedMonoMs: monoMs, test: true, acknowledged: false };
    } else if (event.phase === "start") {
      const a = this.alarm;
      if (a && (a.alertId === null || a.alertId === event.alertId)) {
        // The status announced this alert first; keep its start time so the buzzer limit holds.
        a.alertId = event.alertId;
        a.byEvent = true;
      } else {
        this.alarm = {
          alertId: event.alertId,
          startedMonoMs: monoMs,
          test: false,
          acknowledged: false,
          byEvent: true,
          byStatus: statusAlerting(this.lastStatus),
        };
      }
    } else if (this.alarm && (this.alarm.alertId === null || this.alarm.alertId === event.alertId)) {
      this.alarm.byEvent = false;
      if (!this.alarm.byStatus) this.alarm = null;
    }
    this.refresh();
  }

  async status(status: DeviceStatus): Promise<void> {
    this.lastStatus = status;
    const alerting = statusAlerting(status);
    if (this.alarm) {
      // The detector is the authority: once it has been in ALERT/HOLD and left, the alert is over
      // even if its "end" event never arrives. An alert announced by event while the status still
      // lags behind (byStatus never set) stays until its "end".
      if (!alerting && (this.alarm.byStatus || !this.alarm.byEvent)) this.alarm = null;
      else this.alarm.byStatus = alerting;
    } else if (alerting) {
      this.alarm = {
        alertId: null,
        startedMonoMs: this.clock.monotonicMs(),
        test: false,
        acknowledged: false,
        byEvent: false,
        byStatus: true,
      };
    }
    this.refresh();
  }

  private buttonPressed(): void {
    // Silence locally at once: whoever presses the button is standing next to the buzzer. The
    // LED stays, and the daemon is told so it can publish the acknowledgement.
    if (this.alarm) this.alarm.acknowledged = true;
    if (this.testAlarm) this.testAlarm.acknowledged = true;
    this.log.info({ alerting: this.alarm !== null }, "acknowledge button pressed");
    this.refresh();
    for (const listener of this.buttonListeners) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, "acknowledge button listener failed");
      }
    }
  }

  /** Apply now and restart the tick from now, so an alert's beeps fall on ticks, not between. */
  private refresh(): void {
    if (!this.running || this.halted) return;
    this.cancelTimer();
    this.tick();
  }

  private tick = (): void => {
    this.timer = null;
    if (!this.running || this.halted) return;
    this.apply();
    this.timer = this.clock.setTimeout(this.tick, INDICATOR_TICK_MS);
  };

  private apply(): void {
    const monoMs = this.clock.monotonicMs();
    if (this.testAlarm && !testAlarmActive(this.testAlarm, monoMs, this.options)) this.testAlarm = null;
    const out = indicatorOutputs(
      { status: this.lastStatus, alarm: this.alarm ?? this.testAlarm, nowMs: this.clock.nowMs(), monoMs },
      this.options,
    );
    if (out.mode !== this.lastMode) {
      this.log.debug({ mode: out.mode, from: this.lastMode }, "indicator mode");
      this.lastMode = out.mode;
    }
    for (const o of this.outputs) {
      const want = out[o.name];
      if (o.level !== want) this.writeLine(o, want);
    }
  }

  /** Write one line; a failure is logged once per failing spell and retried on the next tick. */
  private writeLine(o: OutputLine, on: boolean): void {
    try {
      o.line.write(on);
      o.level = on;
      if (o.failing !== null) {
        this.log.warn({ line: o.name }, "GPIO line writes again");
        o.failing = null;
      }
    } catch (cause) {
      o.level = null;
      if (o.failing === null) {
        const err = new OutputError(
          "GPIO_WRITE_FAILED",
          `could not switch the ${o.name} ${on ? "on" : "off"}; check the wiring and that nothing else claimed the line`,
          { cause },
        );
        this.log.error({ err, line: o.name, detail: describeError(cause) }, "GPIO line write failed");
      }
      o.failing = describeError(cause);
    }
  }

  private cancelTimer(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
