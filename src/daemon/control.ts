/**
 * Control: what a person asks of the daemon (MQTT `set`, the status socket, the acknowledge
 * button) — arm, disarm, mute N minutes (no alerts until the mute ends by itself; independent of
 * the Armed switch, issue #12), unmute, test, ack (buzzer off, the alert stays, the
 * acknowledgement is published in the state), reset_adaptation (forget the learnt voice and room
 * statistics, for a unit moved to another person or room).
 *
 * Owns the arming state (armed, mute and its timer, acknowledged) and the test alerts' timers.
 * Must not own: the detector or the open alert (detection-loop.ts, asked to restart its decisions
 * or read), problems and status (health.ts, through `publishStatus`), the lifecycle, config and
 * model (daemon.ts, read through `ControlDeps`).
 */
import { randomUUID } from "node:crypto";
import type { Clock, TimerHandle } from "../clock.js";
import type { Config } from "../config/schema.js";
import { describeError, EarwitnessError } from "../errors.js";
import type { Logger } from "../log.js";
import { DEFAULT_GPIO_OPTIONS } from "../outputs/gpio/indicator.js";
import type { Command } from "../outputs/mqtt/commands.js";
import type { AlertEndReasonName } from "../outputs/mqtt/contract.js";
import type { AlertEvent } from "../outputs/sink.js";
import type { DeviceAdaptation } from "../assemble/model.js";
import { thresholdsOf, type ModelHandle } from "./seams.js";

/** How long a test alert lasts before its end event. */
export const TEST_ALERT_MS = DEFAULT_GPIO_OPTIONS.testAlertMs;

/** What control reads of, and asks of, the detection loop (DetectionLoop satisfies it). */
export interface DetectionControl {
  readonly openAlertId: string | null;
  readonly lastDbfs: number;
  /** The detector back to IDLE; an open alert ends with `resetReason`. */
  restartDecisions(resetReason: AlertEndReasonName): void;
}

export interface ControlDeps {
  clock: Clock;
  /** The daemon's logger (its lines keep `component: "daemon"`). */
  log: Logger;
  running(): boolean;
  config(): Config;
  /** The model in force, and one a reload has loaded but not yet handed over. */
  model(): ModelHandle | null;
  pendingModel(): ModelHandle | null;
  /** A reload under way, if any. */
  reloading(): Promise<boolean> | null;
  detection(): DetectionControl;
  /** Hands an alert event to every output, in order (the conductor). */
  emitAlert(event: AlertEvent): void;
  publishStatus(): void;
}

export class Control {
  private armedValue = true;
  private mutedUntilMsValue: number | null = null;
  private muteMinutesValue = 0;
  private acknowledgedValue = false;
  private muteTimer: TimerHandle | null = null;
  private readonly testTimers = new Set<TimerHandle>();

  constructor(private readonly deps: ControlDeps) {}

  /** The Armed switch. */
  get armed(): boolean {
    return this.armedValue;
  }
  get mutedUntilMs(): number | null {
    return this.mutedUntilMsValue;
  }
  get muteMinutes(): number {
    return this.muteMinutesValue;
  }
  get acknowledged(): boolean {
    return this.acknowledgedValue;
  }

  /** Alerts can be raised: armed and not muted. */
  listening(): boolean {
    return this.armedValue && this.mutedUntilMsValue === null;
  }

  /** An alert opened or ended (detection-loop.ts): an acknowledgement was for the one before. */
  alertChanged(): void {
    this.acknowledgedValue = false;
  }

  /** Stopping: the mute's and the test alerts' timers (a running mute's end time is kept). */
  clearTimers(): void {
    const c = this.deps.clock;
    for (const t of [this.muteTimer, ...this.testTimers]) if (t) c.clearTimeout(t);
    this.muteTimer = null;
    this.testTimers.clear();
  }

  /** Applies one command; throws a message-bearing error the MQTT sink answers on `set/result`. */
  async command(c: Command): Promise<void> {
    switch (c.command) {
      case "arm":
        this.arm();
        return;
      case "disarm":
        this.disarm();
        return;
      case "mute":
        this.mute(c.minutes);
        return;
      case "unmute":
        this.unmute();
        return;
      case "test":
        this.testAlert();
        return;
      case "ack":
        if (!this.ack()) throw new EarwitnessError("NOTHING_TO_ACK", "no alert is active; there is nothing to acknowledge");
        return;
      case "reset_adaptation":
        await this.resetAdaptation();
        return;
    }
  }

  /**
   * Forgets what the unit learnt of its wearer's voice and room (statistics in memory and the file
   * in state_dir), for a unit moved to another person or room; detection goes on at once with the
   * model's own statistics and learns again. Refused while an alert is open: that alert was
   * decided with the learnt statistics, and changing the normalisation under it could end it
   * early. Throws a coded error (answered on `set/result`) when refused or when the file cannot
   * be deleted; detection is never touched either way.
   */
  async resetAdaptation(): Promise<void> {
    // A reload may have read the statistics file already and not yet handed over its model: that
    // model must be reset too, so wait for it to be pending.
    const reloading = this.deps.reloading();
    if (reloading) await reloading;
    const model = this.deps.model();
    if (!this.deps.running() || !model) {
      throw new EarwitnessError("NOT_RUNNING", "the daemon is not listening yet; try again once it has started");
    }
    const config = this.deps.config();
    const adaptations = [...new Set([model.adaptation, this.deps.pendingModel()?.adaptation])].filter(
      (a): a is DeviceAdaptation => a !== null && a !== undefined,
    );
    if (adaptations.length === 0) {
      const why = config.adaptation.enabled
        ? `model ${model.info.name} is not normalised per speaker, so it does not adapt`
        : "adaptation.enabled is false in the configuration";
      throw new EarwitnessError("ADAPTATION_OFF", `voice adaptation is off (${why}); there is nothing to reset`);
    }
    if (this.deps.detection().openAlertId !== null) {
      throw new EarwitnessError("ALERT_ACTIVE", "an alert is active; reset the voice adaptation after it has ended");
    }
    const results = await Promise.allSettled(adaptations.map((a) => a.reset()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      const err = new EarwitnessError(
        "ADAPTATION_RESET_FAILED",
        `the learnt voice statistics are forgotten in memory, but their file in ${this.deps.config().state_dir} could not be ` +
          `deleted (${describeError(failed.reason)}), so a restart would bring them back; make state_dir writable for ` +
          `earwitness and send the command again, or stop the service, delete adaptation-${model.info.name}.json there and start it`,
        { cause: failed.reason },
      );
      this.deps.log.error({ err }, "voice adaptation reset failed");
      throw err;
    }
    this.deps.log.info({ model: model.info.name }, "voice adaptation reset: learning this unit's voice and room again from now");
  }

  /** The Armed switch on. A running mute goes on (mute and Armed are independent). */
  arm(): void {
    if (this.armedValue) return;
    this.armedValue = true;
    this.deps.log.info(this.mutedUntilMsValue === null ? "armed" : "armed; still muted until the mute ends");
    this.afterArmingChange("disarmed");
  }

  /** The Armed switch off: no alerts until armed again. A running mute goes on. */
  disarm(): void {
    if (!this.armedValue) return;
    this.armedValue = false;
    this.deps.log.warn("disarmed: no alerts until armed again");
    this.afterArmingChange("disarmed");
  }

  /** No alerts for `minutes`, then as before by itself; the Armed switch is not touched. */
  mute(minutes: number): void {
    this.clearMute();
    const ms = minutes * 60_000;
    this.mutedUntilMsValue = this.deps.clock.nowMs() + ms;
    this.muteMinutesValue = minutes;
    this.muteTimer = this.deps.clock.setTimeout(() => {
      this.muteTimer = null;
      this.mutedUntilMsValue = null;
      this.muteMinutesValue = 0;
      this.deps.log.info(this.armedValue ? "mute over: listening again" : "mute over; still disarmed");
      this.afterArmingChange("muted");
    }, ms);
    this.deps.log.warn({ minutes }, "muted: no alerts until the mute ends");
    this.afterArmingChange("muted");
  }

  /** Ends a running mute now. */
  unmute(): void {
    if (!this.clearMute()) return;
    this.deps.log.info(this.armedValue ? "unmuted: listening again" : "unmuted; still disarmed");
    this.afterArmingChange("muted");
  }

  /** Returns whether a mute was running. */
  private clearMute(): boolean {
    if (this.muteTimer) this.deps.clock.clearTimeout(this.muteTimer);
    this.muteTimer = null;
    const wasMuted = this.mutedUntilMsValue !== null;
    this.mutedUntilMsValue = null;
    this.muteMinutesValue = 0;
    return wasMuted;
  }

  private afterArmingChange(resetReason: AlertEndReasonName): void {
    // Both ways, the detector starts from IDLE: disarming ends an open alert, arming forgets
    // whatever half-suspicion was left from before.
    this.deps.detection().restartDecisions(resetReason);
    this.deps.publishStatus();
  }

  /** A test alert through every output (GPIO and MQTT with `test: true`), ended after TEST_ALERT_MS. */
  testAlert(): string {
    const id = randomUUID();
    const { clock } = this.deps;
    const startedAtMs = clock.nowMs();
    const base = {
      alertId: id,
      startedAtMs,
      peak: 1,
      mean: 1,
      emotion: "test",
      probs: {},
      dbfs: this.deps.detection().lastDbfs,
      test: true,
      thresholds: thresholdsOf(this.deps.config()),
    };
    this.deps.log.info({ alertId: id }, "test alert");
    this.deps.emitAlert({ phase: "start", ...base });
    const timer = clock.setTimeout(() => {
      this.testTimers.delete(timer);
      this.deps.emitAlert({ phase: "end", ...base, endedAtMs: clock.nowMs(), endReason: "test_over" });
    }, TEST_ALERT_MS);
    this.testTimers.add(timer);
    return id;
  }

  /** Buzzer off, the alert stays until it ends, the acknowledgement is published. False if no alert. */
  ack(): boolean {
    const alertId = this.deps.detection().openAlertId;
    if (alertId === null) return false;
    if (!this.acknowledgedValue) {
      this.acknowledgedValue = true;
      this.deps.log.info({ alertId }, "alert acknowledged");
      this.deps.publishStatus();
    }
    return true;
  }

  /** The acknowledge button: the indicator has already silenced its buzzer; publish the acknowledgement if there is an alert. */
  onButton(): void {
    this.ack();
  }
}
