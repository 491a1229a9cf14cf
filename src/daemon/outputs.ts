/**
 * The daemon's outputs: the GPIO indicator and the MQTT sink (the alert sinks), the local status
 * socket and page, and the ordered hand-over of alert events to every sink.
 *
 * Never silent (issues #11/#12): each output starts or is reported as a problem, and none gates
 * another or detection. Alert events reach the sinks in the order they were emitted (start before
 * end), one failing sink never stops another (`notifyAll`, STYLE.md §10), and a reload's MQTT swap
 * waits its turn in the same chain, so no event goes to a half-replaced sink.
 *
 * Stopping comes in two steps because the conductor interleaves it with detection: first the
 * status socket and page (`stopStatus`), then, once the open alert has been ended, the sinks
 * (`stopSinks`: pending alerts delivered, MQTT flushed and offline, GPIO off).
 *
 * Must not own: the lifecycle and when each step runs (daemon.ts), problems and status (health.ts,
 * through `setProblem`, `syncMqttProblems`, `publishStatus`), commands (control.ts, through
 * `onButton` and `onCommand`).
 */
import type { Config } from "../config/schema.js";
import { describeError } from "../errors.js";
import type { StatusPageProvider } from "../http/status-server.js";
import type { Logger } from "../log.js";
import type { Command } from "../outputs/mqtt/commands.js";
import type { ModelInfo } from "../outputs/mqtt/contract.js";
import { notifyAll, type AlertEvent, type AlertSink } from "../outputs/sink.js";
import { mqttSettingsOf, type DaemonDeps, type IndicatorOutput, type MqttOutput, type StatusSocketOutput } from "./seams.js";

export interface OutputsDeps {
  /** The daemon's logger (its lines keep `component: "daemon"`). */
  log: Logger;
  /** How each output is built (real-deps.ts, or fakes). */
  create: Pick<DaemonDeps, "createIndicator" | "createMqtt" | "createStatusSocket" | "createStatusPage">;
  running(): boolean;
  config(): Config;
  /** What the status socket and page read (the conductor). */
  provider: StatusPageProvider;
  /** The problem board and the status (health.ts). */
  setProblem(code: string, message: string | null): void;
  syncMqttProblems(): void;
  publishStatus(): void;
  /** The acknowledge button and MQTT commands (control.ts). */
  onButton(): void;
  onCommand(c: Command): Promise<void>;
}

export class Outputs {
  private indicatorValue: IndicatorOutput | null = null;
  private mqttValue: MqttOutput | null = null;
  private statusSocket: StatusSocketOutput | null = null;
  private statusPage: StatusSocketOutput | null = null;
  private unsubscribers: (() => void)[] = [];
  /** Alert deliveries in order: start before end, and a sink swap in between waits its turn. */
  private alertChain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: OutputsDeps) {}

  get indicator(): IndicatorOutput | null {
    return this.indicatorValue;
  }
  get mqtt(): MqttOutput | null {
    return this.mqttValue;
  }

  /** Every output alert events and the status go to. */
  sinks(): AlertSink[] {
    return [this.indicatorValue, this.mqttValue].filter((s): s is IndicatorOutput | MqttOutput => s !== null);
  }

  // ─── start ────────────────────────────────────────────────────────────────────────────────────

  /** GPIO that cannot work is a problem (`gpio_unavailable`), never a reason to stay deaf. */
  async startIndicator(): Promise<void> {
    let indicator: IndicatorOutput | null = null;
    try {
      indicator = await this.deps.create.createIndicator(this.deps.config());
      await indicator?.start();
    } catch (err) {
      await indicator?.stop().catch(() => undefined);
      indicator = null;
      this.deps.log.error({ err }, "GPIO unavailable: no LED, buzzer or button; detection and MQTT alerts go on");
      this.deps.setProblem("gpio_unavailable", `GPIO unavailable (no LED, buzzer or button): ${describeError(err)}`);
    }
    this.indicatorValue = indicator;
    if (indicator) this.unsubscribers.push(indicator.onButton(() => this.deps.onButton()));
  }

  /** MQTT that cannot start is a problem (`mqtt_unavailable`), shown on the LED; detection goes on. */
  async startMqtt(info: ModelInfo): Promise<void> {
    let mqtt: MqttOutput | null = null;
    try {
      mqtt = await this.deps.create.createMqtt(mqttSettingsOf(this.deps.config()), info);
    } catch (err) {
      this.mqttUnavailable(err);
      return;
    }
    await this.openMqtt(mqtt);
  }

  /** Starts `mqtt` (null: MQTT is off) as the MQTT sink; one that cannot start is `mqtt_unavailable`, and none is used. */
  private async openMqtt(mqtt: MqttOutput | null): Promise<void> {
    try {
      await mqtt?.start();
    } catch (err) {
      await mqtt?.stop().catch(() => undefined);
      this.mqttUnavailable(err);
      return;
    }
    this.mqttValue = mqtt;
    this.deps.setProblem("mqtt_unavailable", null);
    this.attachCommands(mqtt);
  }

  private mqttUnavailable(err: unknown): void {
    this.mqttValue = null;
    this.deps.log.error({ err }, "MQTT unavailable: alerts only on the LED and buzzer");
    this.deps.setProblem("mqtt_unavailable", `MQTT unavailable, alerts only on the LED and buzzer: ${describeError(err)}`);
  }

  /**
   * The status socket and page only inform: if either cannot open, the daemon listens anyway. The
   * socket's absence is logged (`earwitness monitor` will not work); the page's is a problem.
   */
  async startStatus(): Promise<void> {
    const { create, log, provider } = this.deps;
    try {
      this.statusSocket = create.createStatusSocket?.(this.deps.config(), provider) ?? null;
      await this.statusSocket?.start();
    } catch (err) {
      this.statusSocket = null;
      log.warn({ err }, "status socket not available; `earwitness monitor` will not work, detection is unaffected");
    }
    try {
      this.statusPage = create.createStatusPage?.(this.deps.config(), provider) ?? null;
      await this.statusPage?.start();
      this.deps.setProblem("http_unavailable", null);
    } catch (err) {
      this.statusPage = null;
      log.warn({ err }, "status page not available; detection is unaffected");
      this.deps.setProblem("http_unavailable", `status page unavailable, detection goes on: ${describeError(err)}`);
    }
  }

  // ─── alerts and reload ────────────────────────────────────────────────────────────────────────

  /** Every sink gets the event, in order of events; one failing sink never stops another. */
  emitAlert(event: AlertEvent): void {
    this.statusSocket?.recordAlert(event);
    this.statusPage?.recordAlert(event);
    this.alertChain = this.alertChain.then(async () => {
      await notifyAll(this.sinks(), this.deps.log, (s) => s.alert(event));
      this.deps.log.info({ alertId: event.alertId, phase: event.phase, test: event.test, endReason: event.endReason }, "alert event handed to every output");
      // A failing outbox shows at once, not at the next tick.
      if (this.deps.running()) this.deps.syncMqttProblems();
    });
  }

  /**
   * A reload changed what the MQTT sink is built from (its settings, seams.ts mqttSettingsOf) or
   * the model it announces in discovery and state: replace it, in turn with alerts. MQTT turned
   * on or off, or a sink that could not start before, is replaced the same way. A sink that cannot
   * be built (an unreadable password file, say) leaves the old one running.
   */
  swapMqtt(next: Config, info: ModelInfo): void {
    const { log } = this.deps;
    this.alertChain = this.alertChain.then(async () => {
      let fresh: MqttOutput | null = null;
      try {
        fresh = await this.deps.create.createMqtt(mqttSettingsOf(next), info);
      } catch (err) {
        log.error({ err }, "could not build the MQTT sink for the new settings; keeping the old one");
        return;
      }
      // One client id per broker: the old client must go before the new one connects. The old
      // one is whichever runs when this turn comes (a reload queued behind another replaces the
      // sink that one made).
      const old = this.mqttValue;
      await old?.stop().catch((err: unknown) => log.error({ err }, "stopping the old MQTT sink failed"));
      await this.openMqtt(fresh);
      this.deps.publishStatus();
    });
  }

  /** Commands from MQTT go to control. */
  private attachCommands(mqtt: MqttOutput | null): void {
    if (!mqtt) return;
    this.unsubscribers.push(mqtt.onCommand((c) => this.deps.onCommand(c)));
  }

  // ─── stop ─────────────────────────────────────────────────────────────────────────────────────

  /** No more button presses or MQTT commands reach control. Synchronous, first thing on stop. */
  detach(): void {
    for (const off of this.unsubscribers.splice(0)) off();
  }

  /** The first stop step: the status socket and page close. */
  async stopStatus(): Promise<void> {
    const { log } = this.deps;
    await this.statusSocket?.stop().catch((err: unknown) => log.error({ err }, "stopping the status socket failed"));
    this.statusSocket = null;
    await this.statusPage?.stop().catch((err: unknown) => log.error({ err }, "stopping the status page failed"));
    this.statusPage = null;
  }

  /** The second, once the open alert has ended: pending alerts delivered, then MQTT (outbox flushed, offline published), then GPIO off. */
  async stopSinks(): Promise<void> {
    const { log } = this.deps;
    await this.alertChain;
    await this.mqttValue?.stop().catch((err: unknown) => log.error({ err }, "stopping MQTT failed"));
    await this.indicatorValue?.stop().catch((err: unknown) => log.error({ err }, "stopping GPIO failed"));
    this.indicatorValue?.offNow();
    this.mqttValue = null;
  }

  /** Synchronous "outputs off" for process exit and fatal errors. Never throws. */
  offNow(): void {
    try {
      this.indicatorValue?.offNow();
    } catch {
      // On the way out nothing more can be done.
    }
  }
}
