/**
 * The MQTT output: alerts through the durable outbox, retained state and availability (with a
 * last will), telemetry, problems, Home Assistant discovery, and commands on `set` topics.
 *
 * The daemon keeps protecting the person while the broker is down: start() waits only a short
 * while for the first connection, mqtt.js keeps reconnecting, and every alert is fsync'ed to the
 * outbox before it is published and removed only after PUBACK. Nothing here blocks for long:
 * status, telemetry and problems are skipped while disconnected (the latest state is republished
 * on reconnect), alerts wait in the outbox.
 *
 * Delivery order: one alert in flight at a time, oldest first, so a consumer sees start before
 * end even after an outage. If the connection drops while an alert is in flight, mqtt.js resends
 * it on reconnect (its in-memory store) and the outbox covers a process restart.
 */
import { readFile } from "node:fs/promises";
import { connect as mqttConnect, type IClientOptions, type MqttClient } from "mqtt";
import type { Clock, TimerHandle } from "../../clock.js";
import type { Logger } from "../../log.js";
import { describeError, OutputError } from "../../errors.js";
import type { AlertEvent, AlertSink, DeviceStatus } from "../sink.js";
import {
  alertRecordId,
  AVAILABILITY_OFFLINE,
  AVAILABILITY_ONLINE,
  buildAlertPayload,
  buildCommandResultPayload,
  buildProblemPayload,
  buildStatePayload,
  buildTelemetryPayload,
  COMMAND_TOPICS,
  checkTopicRoot,
  encodePayload,
  topicFor,
  TOPIC_SPECS,
  type CommandTopic,
  type ModelInfo,
  type OutgoingTopic,
  type OutgoingTopicMap,
  type ProblemReport,
  type TelemetrySample,
  type UnitInfo,
  lastAlertRecordId,
} from "./contract.js";
import { parseCommand, type Command } from "./commands.js";
import { buildDiscoveryMessages, haStatusTopic, HA_STATUS_ONLINE, type DiscoveryMessage } from "./discovery.js";
import { Outbox, type OutboxLimits } from "./outbox.js";

export interface MqttTlsOptions {
  /** PEM file of the CA that signed the broker's certificate. */
  caPath?: string;
  /** PEM client certificate and key, for brokers that require client certificates. */
  certPath?: string;
  keyPath?: string;
  /** Default true; false accepts any broker certificate (testing only). */
  rejectUnauthorized?: boolean;
}

/** Everything the MQTT sink needs; the composition root maps the config onto it. */
export interface MqttOptions {
  /** `mqtt://host:1883` or `mqtts://host:8883`. */
  url: string;
  /** Unique per broker; a second client with the same id disconnects the first. */
  clientId: string;
  username?: string;
  password?: string;
  tls?: MqttTlsOptions;
  /** Every topic lives under this: `<base>/<deviceId>`, the config's `mqtt.topic_root`. */
  topicRoot: string;
  deviceId: string;
  /** Shown in Home Assistant; default `earwitness <deviceId>`. */
  deviceName?: string;
  discovery: { enabled: boolean; prefix: string };
  /** When false, publishTelemetry() does nothing and the dBFS entity is removed from HA. */
  telemetry: { enabled: boolean };
  model: ModelInfo;
  /** The outbox lives in `<stateDir>/outbox.jsonl`. */
  stateDir: string;
  outbox: OutboxLimits;
  keepaliveS: number;
  /** earwitness's version, for HA's device and origin info. */
  softwareVersion: string;
  /** Which machine this is, published in the state (two units with one device id tell apart). */
  unit?: UnitInfo;
  /** HA device info: the board, the origin's support link, the device's "Visit" link. */
  hwVersion?: string;
  supportUrl?: string;
  configurationUrl?: string;
  /** How long start() waits for the first connection before carrying on (default 5000). */
  connectWaitMs?: number;
  /** How long stop() waits for pending alerts to be acknowledged (default 3000). */
  stopTimeoutMs?: number;
  /** Delay between reconnection attempts (default 5000). */
  reconnectPeriodMs?: number;
  /** TCP/TLS + CONNACK timeout of one attempt (default 10000). */
  connectTimeoutMs?: number;
  /**
   * An alert published without PUBACK for this long means the connection is stalled (a broker
   * that accepts but never acknowledges): `mqtt_stalled` is raised and the connection is dropped
   * and made again (default 10000).
   */
  pubackTimeoutMs?: number;
  /** When short sessions mean another client with our id (defaults: TAKEOVER_DEFAULTS). */
  takeover?: Partial<TakeoverLimits>;
}

/** A condition of the sink the daemon shows as a problem (`outbox_failing`, `mqtt_stalled`). */
export interface SinkProblem {
  code: string;
  message: string;
}

/**
 * Two clients with one client id take each other's connection for ever: the broker closes the
 * older one, which reconnects and closes the other (MQTT 3.1.1 §3.1.4; Mosquitto logs "already
 * connected, closing old connection"). 3.1.1 gives no reason on the socket, so we infer it: the
 * broker closing a connection soon after it was made, `count` times within `windowMs`.
 */
export interface TakeoverLimits {
  /** A session closed by the broker within this long after CONNACK counts. */
  shortSessionMs: number;
  windowMs: number;
  count: number;
  /** A session lasting this long clears the suspicion. */
  clearAfterMs: number;
}

export const TAKEOVER_DEFAULTS: TakeoverLimits = { shortSessionMs: 30_000, windowMs: 5 * 60_000, count: 4, clearAfterMs: 2 * 60_000 };

/** The seam to the network; tests may wrap it to reach the client. */
export type MqttConnectFn = (url: string, options: IClientOptions) => MqttClient;

export interface MqttSinkDeps {
  clock: Clock;
  log: Logger;
  connect?: MqttConnectFn;
}

/** Receives parsed commands; a rejection is answered on `set/result` with its message. */
export type CommandHandler = (command: Command) => Promise<void> | void;

const DEFAULT_CONNECT_WAIT_MS = 5_000;
const DEFAULT_STOP_TIMEOUT_MS = 3_000;
const DEFAULT_RECONNECT_PERIOD_MS = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const STOP_POLL_MS = 50;
const DEFAULT_PUBACK_TIMEOUT_MS = 10_000;

export class MqttSink implements AlertSink {
  readonly name = "mqtt";

  private readonly log: Logger;
  private client: MqttClient | null = null;
  private outbox: Outbox | null = null;
  private root = "";
  private discoveryMessages: DiscoveryMessage[] = [];
  private lastState: string | null = null;
  private lastPublishedState: string | null = null;
  private handler: CommandHandler | null = null;
  private commandChain: Promise<void> = Promise.resolve();
  /** The client the delivery loop is running for, or null when no loop runs. */
  private drainingFor: MqttClient | null = null;
  private reportedOffline = false;
  /** Set while alerts went unacknowledged past pubackTimeoutMs; cleared by the next PUBACK. */
  private stalled: string | null = null;
  private progressMonoMs = 0;
  private stallTimer: TimerHandle | null = null;
  private connectedAtMonoMs: number | null = null;
  private shortSessionsMonoMs: number[] = [];
  private conflict: string | null = null;
  /**
   * Set while the socket checkStall dropped closes: that close is ours, not the broker's, so it is
   * no sign of another client with our id (a stalling broker must not look like a takeover).
   */
  private droppingStalled = false;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly options: MqttOptions,
    private readonly deps: MqttSinkDeps,
  ) {
    this.log = deps.log.child({ component: "mqtt" });
  }

  /** True while the broker connection is up. */
  get connected(): boolean {
    return this.client?.connected === true;
  }

  /**
   * Set while the connection keeps being taken away soon after it is made: another client (a
   * second unit with the same device id, most likely) uses our client id. Null otherwise.
   */
  get clientIdConflict(): string | null {
    const since = this.connectedAtMonoMs;
    if (this.conflict !== null && since !== null && this.client?.connected === true) {
      if (this.deps.clock.monotonicMs() - since >= this.takeoverLimits().clearAfterMs) {
        this.log.info("the MQTT connection has held; the client id conflict seems over");
        this.conflict = null;
        this.shortSessionsMonoMs = [];
      }
    }
    return this.conflict;
  }

  private takeoverLimits(): TakeoverLimits {
    return { ...TAKEOVER_DEFAULTS, ...this.options.takeover };
  }

  /** Alert events waiting in the outbox for a PUBACK (their retained `alert/last` copies not counted). */
  get pendingAlerts(): number {
    return this.outbox?.pending().filter((r) => r.topic === "alert").length ?? 0;
  }

  start(): Promise<void> {
    // A failed start may be retried (e.g. after fixing a file): forget the rejected attempt.
    this.starting ??= this.doStart().catch((err: unknown) => {
      this.starting = null;
      throw err;
    });
    return this.starting;
  }

  stop(): Promise<void> {
    if (this.starting === null) return Promise.resolve();
    this.stopping ??= this.doStop().finally(() => {
      this.starting = null;
      this.stopping = null;
    });
    return this.stopping;
  }

  /**
   * What is wrong with delivery right now, for the daemon's problem list: an outbox that cannot
   * write (alerts are then sent from memory) and a broker that does not acknowledge.
   */
  deliveryProblems(): SinkProblem[] {
    const out: SinkProblem[] = [];
    const failure = this.outbox?.failure;
    if (failure) out.push({ code: "outbox_failing", message: `alert outbox failing: ${failure}` });
    if (this.stalled) out.push({ code: "mqtt_stalled", message: this.stalled });
    return out;
  }

  /** Register the command handler (one at a time); returns a function that unregisters it. */
  onCommand(handler: CommandHandler): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = null;
    };
  }

  /**
   * Resolves once the event is fsync'ed in the outbox, or, when the disk refuses it, queued in
   * memory (then `problems()` says so); delivery continues in the background either way.
   */
  async alert(event: AlertEvent): Promise<void> {
    const outbox = this.requireOutbox();
    const payload = buildAlertPayload(event, { deviceId: this.options.deviceId, model: this.options.model });
    const text = encodePayload("alert", payload);
    const createdAtMs = this.deps.clock.nowMs();
    await outbox.append({ id: alertRecordId(event), topic: "alert", payload: text, createdAtMs });
    // The same event, retained, for consumers that were down when it came (a restarted Home
    // Assistant). Sent after the event itself, through the outbox too; tests do not replace a
    // real alert there.
    if (!event.test) await outbox.append({ id: lastAlertRecordId(event), topic: "alert/last", payload: text, createdAtMs });
    this.kickDrain();
  }

  async status(status: DeviceStatus): Promise<void> {
    this.lastState = encodePayload("state", buildStatePayload(status, this.options.model, this.options.unit));
    this.publishState();
  }

  async publishTelemetry(sample: TelemetrySample): Promise<void> {
    if (!this.options.telemetry.enabled || !this.connected) return;
    this.publish("telemetry", buildTelemetryPayload(sample));
  }

  async publishProblem(problem: ProblemReport): Promise<void> {
    if (!this.connected) {
      this.log.debug({ code: problem.code }, "problem not published: broker not connected (it is in the state)");
      return;
    }
    this.publish("problem", buildProblemPayload(problem));
  }

  private async doStart(): Promise<void> {
    const o = this.options;
    this.root = checkTopicRoot(o.topicRoot, o.deviceId);
    this.discoveryMessages = o.discovery.enabled
      ? buildDiscoveryMessages({
          prefix: o.discovery.prefix,
          root: this.root,
          deviceId: o.deviceId,
          deviceName: o.deviceName ?? `earwitness ${o.deviceId}`,
          model: o.model,
          softwareVersion: o.softwareVersion,
          telemetryEnabled: o.telemetry.enabled,
          ...(o.supportUrl ? { supportUrl: o.supportUrl } : {}),
          ...(o.configurationUrl ? { configurationUrl: o.configurationUrl } : {}),
          ...(o.hwVersion ? { hwVersion: o.hwVersion } : {}),
        })
      : [];
    const tls = await this.readTls();
    try {
      this.outbox = await Outbox.open(o.stateDir, o.outbox, this.log);
    } catch (err) {
      // The outbox is a durability layer, never a gate: without it alerts go out from memory.
      if (!(err instanceof OutputError) || err.code !== "OUTBOX_OPEN") throw err;
      this.log.error({ err }, "alert outbox cannot be opened; alerts are sent from memory, without surviving a restart");
      this.outbox = Outbox.inMemory(o.stateDir, o.outbox, this.log, err.cause ?? err);
    }

    const connect = this.deps.connect ?? mqttConnect;
    let client: MqttClient;
    try {
      client = connect(o.url, {
        clientId: o.clientId,
        username: o.username,
        password: o.password,
        keepalive: o.keepaliveS,
        // A clean session: commands queued while we were away may be hours old (a stale "test"
        // would sound the buzzer at night). Subscriptions are renewed on every connect.
        clean: true,
        resubscribe: false,
        reconnectPeriod: o.reconnectPeriodMs ?? DEFAULT_RECONNECT_PERIOD_MS,
        connectTimeout: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        // 3.1.1: what every broker speaks, aedes included.
        protocolVersion: 4,
        queueQoSZero: false,
        // No number cache: by default mqtt-packet builds 65 536 two-byte Buffers at the first
        // packet (~6.6 MB of V8 heap, kept for the life of the process: `node -e` over
        // mqtt-packet/numbers' generateCache, gc before and after) to save microseconds per
        // packet, and we send a few packets a minute. With this option mqtt.js sets
        // `writeToStream.cacheNumbers = false` on the very copy of mqtt-packet it writes with
        // (process-wide), so we need not import or declare mqtt-packet. Issue 14, point 7;
        // docs/performance.md, "Memory".
        writeCache: false,
        will: { topic: topicFor(this.root, "availability"), payload: Buffer.from(AVAILABILITY_OFFLINE), qos: 1, retain: true },
        ...tls,
      });
    } catch (err) {
      await this.outbox.close();
      this.outbox = null;
      throw new OutputError("MQTT_URL", `cannot connect to ${o.url}; check mqtt.url (mqtt://host:1883 or mqtts://host:8883)`, {
        cause: err,
      });
    }
    this.client = client;
    client.on("connect", () => this.onConnect());
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet.retain === true));
    client.on("error", (err) => this.onError(err));
    client.on("close", () => this.onClose());
    client.on("packetreceive", (packet) => {
      if (packet.cmd === "puback") this.noteProgress(true);
    });
    client.on("reconnect", () => this.noteProgress(false));
    this.noteProgress(false);
    this.armStallCheck();

    await this.waitForFirstConnect(client, o.connectWaitMs ?? DEFAULT_CONNECT_WAIT_MS);
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.stallTimer) this.deps.clock.clearTimeout(this.stallTimer);
    this.stallTimer = null;
    const client = this.client;
    const outbox = this.outbox;
    const timeoutMs = this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    if (client) {
      const deadline = this.deps.clock.monotonicMs() + timeoutMs;
      while ((outbox?.size ?? 0) > 0 && client.connected && this.deps.clock.monotonicMs() < deadline) {
        await this.sleep(STOP_POLL_MS);
      }
      if ((outbox?.size ?? 0) > 0) {
        this.log.warn({ pending: outbox?.size }, "stopping with undelivered alerts; they stay in the outbox for the next start");
      }
      if (client.connected) {
        const offline = new Promise<void>((resolve) => {
          client.publish(topicFor(this.root, "availability"), AVAILABILITY_OFFLINE, { qos: 1, retain: true }, () => resolve());
        });
        await this.withTimeout(offline, Math.max(0, deadline - this.deps.clock.monotonicMs()) + 1_000);
      }
      // Graceful (DISCONNECT, no will) only when nothing is in flight: mqtt.js's graceful end
      // waits for in-flight PUBACKs, which never come from a broker that is down.
      const graceful = client.connected && (outbox?.size ?? 0) === 0;
      const ended = await this.withTimeout(client.endAsync(!graceful), 2_000);
      if (!ended) client.stream?.destroy();
      // A delivery step awaiting a PUBACK from this client will never resume; forget it.
      this.drainingFor = null;
      client.removeAllListeners();
      // mqtt.js may emit a late error while tearing down; never let it become an unhandled one.
      client.on("error", () => undefined);
      this.client = null;
    }
    if (outbox) {
      // close() is serialised after any ack still being written.
      await outbox.close();
      this.outbox = null;
    }
    this.lastPublishedState = null;
  }

  private requireOutbox(): Outbox {
    // Accepted while stopping too: the outbox is durable, the next start delivers it.
    if (this.outbox === null) {
      throw new OutputError("MQTT_NOT_STARTED", "the MQTT sink is not running; alerts reach it only between start() and stop()");
    }
    return this.outbox;
  }

  private async readTls(): Promise<Partial<IClientOptions>> {
    const tls = this.options.tls;
    if (!tls) return {};
    const read = async (what: string, path: string | undefined): Promise<Buffer | undefined> => {
      if (path === undefined) return undefined;
      try {
        return await readFile(path);
      } catch (err) {
        throw new OutputError("MQTT_TLS_FILE", `cannot read the MQTT TLS ${what} file ${path}; check mqtt.tls.${what} and its permissions`, {
          cause: err,
        });
      }
    };
    const out: Partial<IClientOptions> = { rejectUnauthorized: tls.rejectUnauthorized ?? true };
    const ca = await read("ca", tls.caPath);
    const cert = await read("cert", tls.certPath);
    const key = await read("key", tls.keyPath);
    if (ca) out.ca = ca;
    if (cert) out.cert = cert;
    if (key) out.key = key;
    return out;
  }

  private waitForFirstConnect(client: MqttClient, waitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (client.connected) return resolve();
      const onConnect = (): void => {
        this.deps.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.deps.clock.setTimeout(() => {
        client.removeListener("connect", onConnect);
        this.log.warn(
          { url: this.options.url, waitedMs: waitMs },
          "MQTT broker not reachable yet; carrying on, alerts are kept in the outbox and sent once it is",
        );
        resolve();
      }, waitMs);
      client.once("connect", onConnect);
    });
  }

  private onConnect(): void {
    const client = this.client;
    if (!client) return;
    this.reportedOffline = false;
    this.connectedAtMonoMs = this.deps.clock.monotonicMs();
    this.log.info({ url: this.options.url }, "connected to MQTT broker");
    this.publish("availability", AVAILABILITY_ONLINE);
    this.publishDiscovery();
    this.lastPublishedState = null;
    this.publishState();
    const topics = COMMAND_TOPICS.map((t) => topicFor(this.root, t));
    if (this.options.discovery.enabled) topics.push(haStatusTopic(this.options.discovery.prefix));
    client.subscribe(topics, { qos: 1 }, (err) => {
      if (err) this.log.error({ err, topics }, "could not subscribe to command topics; commands will not work until reconnect");
    });
    this.kickDrain();
  }

  private onClose(): void {
    this.noteSessionEnd();
    if (this.reportedOffline || this.stopping !== null) return;
    this.reportedOffline = true;
    this.log.warn({ url: this.options.url, pendingAlerts: this.pendingAlerts }, "MQTT broker connection lost; reconnecting");
  }

  private noteSessionEnd(): void {
    const since = this.connectedAtMonoMs;
    const ours = this.droppingStalled;
    this.connectedAtMonoMs = null;
    this.droppingStalled = false;
    if (since === null || ours || this.stopping !== null) return;
    const limits = this.takeoverLimits();
    const now = this.deps.clock.monotonicMs();
    if (now - since > limits.shortSessionMs) return;
    this.shortSessionsMonoMs = [...this.shortSessionsMonoMs.filter((t) => now - t <= limits.windowMs), now];
    if (this.conflict === null && this.shortSessionsMonoMs.length >= limits.count) {
      this.conflict =
        `the broker closed our connection ${this.shortSessionsMonoMs.length} times within ${Math.round(limits.windowMs / 60_000)} min, ` +
        `each soon after connecting: another client uses the client id "${this.options.clientId}" (a second unit with device_id ` +
        `"${this.options.deviceId}"?); give each unit its own device_id (or mqtt.client_id), then restart it`;
      this.log.error({ clientId: this.options.clientId, shortSessions: this.shortSessionsMonoMs.length }, this.conflict);
    }
  }

  private onError(err: Error): void {
    const code = (err as { code?: unknown }).code;
    // Refused credentials are a configuration problem, not an outage: say what to do.
    if (code === 4 || code === 5 || code === 134 || code === 135) {
      this.log.error({ err, url: this.options.url }, "MQTT broker refused our credentials; check mqtt.username and mqtt.password");
      return;
    }
    this.log.debug({ err }, "MQTT connection error");
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    try {
      if (this.options.discovery.enabled && topic === haStatusTopic(this.options.discovery.prefix)) {
        if (payload.toString("utf8").trim() === HA_STATUS_ONLINE) {
          this.log.info("Home Assistant came online; republishing discovery");
          this.publishDiscovery();
          this.lastPublishedState = null;
          this.publishState();
        }
        return;
      }
      const prefix = `${this.root}/`;
      if (!topic.startsWith(prefix)) return;
      const suffix = topic.slice(prefix.length);
      if (!(COMMAND_TOPICS as readonly string[]).includes(suffix)) return;
      const commandTopic = suffix as CommandTopic;
      // Commands run one after another, in arrival order.
      this.commandChain = this.commandChain.then(() => this.handleCommand(commandTopic, payload, retained));
    } catch (err) {
      this.log.error({ err, topic }, "failed to handle an incoming MQTT message");
    }
  }

  private async handleCommand(topic: CommandTopic, payload: Buffer, retained: boolean): Promise<void> {
    const atMs = this.deps.clock.nowMs();
    const answer = (command: string | null, id: string | null, error: string | null): void =>
      this.publish("set/result", buildCommandResultPayload({ atMs, topic, command, id, error }));
    try {
      if (retained) {
        // A retained command would replay at every reconnect (a "test" sounding at 3 am).
        this.log.warn({ topic }, "ignored a retained command");
        answer(null, null, "retained commands are ignored; publish commands without the retain flag");
        return;
      }
      const parsed = parseCommand(topic, payload);
      if (!parsed.ok) {
        this.log.warn({ topic, error: parsed.error }, "rejected a malformed command");
        answer(null, parsed.id, parsed.error);
        return;
      }
      const name = parsed.command.command;
      const handler = this.handler;
      if (!handler) {
        answer(name, parsed.id, "not ready: no command handler is registered yet; try again shortly");
        return;
      }
      try {
        await handler(parsed.command);
      } catch (err) {
        this.log.warn({ err, command: name }, "command failed");
        answer(name, parsed.id, describeError(err));
        return;
      }
      this.log.info({ command: parsed.command }, "command applied");
      answer(name, parsed.id, null);
    } catch (err) {
      this.log.error({ err, topic }, "failed to handle a command");
    }
  }

  private publish<K extends OutgoingTopic>(suffix: K, payload: OutgoingTopicMap[K]): void {
    this.publishRaw(suffix, encodePayload(suffix, payload));
  }

  private publishRaw(suffix: OutgoingTopic, text: string): void {
    const client = this.client;
    if (!client || !client.connected) return;
    const spec = TOPIC_SPECS[suffix];
    client.publish(topicFor(this.root, suffix), text, { qos: spec.qos, retain: spec.retain }, (err) => {
      if (err) this.log.debug({ err, topic: suffix }, "publish not completed");
    });
  }

  private publishState(): void {
    if (this.lastState === null || this.lastState === this.lastPublishedState || !this.connected) return;
    this.publishRaw("state", this.lastState);
    this.lastPublishedState = this.lastState;
  }

  private publishDiscovery(): void {
    const client = this.client;
    if (!client || !client.connected) return;
    for (const msg of this.discoveryMessages) {
      client.publish(msg.topic, msg.payload, { qos: 1, retain: true }, (err) => {
        if (err) this.log.debug({ err, topic: msg.topic }, "discovery publish not completed");
      });
    }
  }

  /** Publish pending alerts oldest first, one at a time; acked in the outbox on PUBACK. */
  private kickDrain(): void {
    const client = this.client;
    if (!client || this.drainingFor === client) return;
    this.drainingFor = client;
    void this.drain(client)
      .catch((err: unknown) => this.log.error({ err }, "alert delivery loop failed; it restarts on the next reconnect"))
      .finally(() => {
        if (this.drainingFor === client) this.drainingFor = null;
      });
  }

  private async drain(client: MqttClient): Promise<void> {
    for (;;) {
      const outbox = this.outbox;
      if (this.client !== client || !outbox || !client.connected) return;
      const next = outbox.pending()[0];
      if (!next) return;
      const topic = next.topic as OutgoingTopic;
      try {
        // Resolves on PUBACK, also one that comes after a reconnect (mqtt.js resends from its
        // store); a broker that never sends it is caught by checkStall.
        await new Promise<void>((resolve, reject) => {
          client.publish(topicFor(this.root, topic), next.payload, { qos: 1, retain: TOPIC_SPECS[topic]?.retain ?? false }, (err) =>
            err ? reject(err) : resolve(),
          );
        });
      } catch (err) {
        this.log.warn({ err, id: next.id }, "alert not acknowledged by the broker yet; it stays in the outbox");
        return;
      }
      // Acked even if stop() began meanwhile: the broker has it, do not send it again.
      await outbox.ack(next.id);
      this.log.info({ id: next.id, ageMs: this.deps.clock.nowMs() - next.createdAtMs }, "alert delivered");
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.deps.clock.setTimeout(resolve, ms));
  }

  /** Broker progress: a PUBACK, or a fresh (re)connection attempt, restarts the stall clock. */
  private noteProgress(puback: boolean): void {
    this.progressMonoMs = this.deps.clock.monotonicMs();
    if (puback && this.stalled !== null) {
      this.stalled = null;
      this.log.info({ url: this.options.url }, "broker acknowledges alerts again");
    }
  }

  private armStallCheck(): void {
    const timeoutMs = this.options.pubackTimeoutMs ?? DEFAULT_PUBACK_TIMEOUT_MS;
    this.stallTimer = this.deps.clock.setTimeout(() => {
      this.stallTimer = null;
      if (this.client === null || this.stopping !== null) return;
      this.checkStall(timeoutMs);
      this.armStallCheck();
    }, Math.max(50, Math.min(1_000, timeoutMs / 4)));
  }

  /**
   * A broker that takes alerts but never acknowledges them: without this the alert in flight, and
   * every one queued behind it, would wait as long as the TCP connection looks alive (pings are
   * still answered). mqtt.js even withholds its "connect" event after a reconnect until its own
   * resent messages are acknowledged. So: pending alerts and no PUBACK for pubackTimeoutMs on a
   * connection that looks up → `mqtt_stalled`, drop the socket (mqtt.js reconnects and resends;
   * consumers dedupe on alert_id), and again after every further timeout.
   */
  private checkStall(timeoutMs: number): void {
    const client = this.client;
    if (!client || !client.connected || (this.outbox?.size ?? 0) === 0) {
      this.progressMonoMs = this.deps.clock.monotonicMs();
      return;
    }
    if (this.deps.clock.monotonicMs() - this.progressMonoMs < timeoutMs) return;
    this.stalled =
      `MQTT broker ${this.options.url} sends no PUBACK for alerts (none for ${timeoutMs} ms, ${this.outbox?.size ?? 0} waiting); ` +
      `reconnecting. Alerts wait in the outbox; check the broker (its log, disk, this client's ACL)`;
    this.log.error({ url: this.options.url, timeoutMs, pending: this.outbox?.size }, "alerts not acknowledged in time: the broker connection is stalled; reconnecting");
    this.progressMonoMs = this.deps.clock.monotonicMs();
    // Destroying the socket makes mqtt.js see a closed connection and reconnect after reconnectPeriod.
    this.droppingStalled = client.stream !== undefined;
    client.stream?.destroy();
  }

  /** True when `promise` settled within `ms`. */
  private async withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = this.deps.clock.setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([promise.then(() => true, () => true), timeout]);
    } finally {
      if (timer) this.deps.clock.clearTimeout(timer);
    }
  }
}
