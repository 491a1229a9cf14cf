/**
 * `daemonWorld()`: what a file of integration tests shares, set up and torn down in one place
 * instead of in every file — a temp directory, a broker (Mosquitto, or aedes when it is missing),
 * optionally a constant "always angry" bundle, the daemons the tests start (daemon/harness.ts),
 * the MQTT watchers they open, and whatever else a test asks to have undone (`defer`).
 *
 * Call it once at the top of a test file: it registers its own hooks. A file's own `beforeAll`
 * runs after the world's (the root and broker exist), its own `afterEach` before the world's
 * (vitest runs after-hooks in reverse order), so a test's clients close before the daemons die.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startBroker, type TestBroker } from "./broker.js";
import { configYaml, killAll, type ConfigOptions } from "./daemon/harness.js";
import { watch, type Watcher } from "./mqtt/watcher.js";
import { writeConstantBundle } from "../fixtures/constant-bundle.js";

export interface WorldOptions {
  /** Start a broker for the file (default true). */
  broker?: boolean;
  /** Write the constant bundle (test/fixtures/constant-bundle.ts) to `bundleDir` (default false). */
  bundle?: boolean;
  /** Runs after each test once its daemons are dead and its watchers closed (unmounting, say). */
  afterEach?: () => void | Promise<void>;
}

/** One simulated unit: its directories, its config file and its topics. */
export interface DaemonUnit {
  deviceId: string;
  dir: string;
  stateDir: string;
  /** The daemon's TMPDIR (startDaemon's third argument). */
  tmp: string;
  configPath: string;
  topic(suffix: string): string;
}

export type UnitOptions = Partial<Omit<ConfigOptions, "deviceId" | "stateDir">> & {
  /** YAML appended to the config as written by configYaml. */
  extraYaml?: string;
};

export interface DaemonWorld {
  /** This file's temp directory (removed after its tests). */
  readonly root: string;
  /** This file's broker; throws when the world has none. */
  readonly broker: TestBroker;
  /** The constant bundle; throws when the world has none. */
  readonly bundleDir: string;
  /**
   * `root/<name>` with `state/` and `tmp/`, and a config (configYaml) for device `name`: the
   * world's broker and bundle unless the options say otherwise.
   */
  unit(name: string, options?: UnitOptions): Promise<DaemonUnit>;
  /** A persistent-session MQTT watcher on the unit's topics, closed after the test. */
  watch(unit: Pick<DaemonUnit, "deviceId">): Promise<Watcher>;
  /** Undo this after the test: last deferred first (a sink stops before its directory goes); failures ignored. */
  defer(cleanup: () => Promise<unknown>): void;
  /** A fresh directory under the root, removed after the test. */
  tempDir(prefix: string): Promise<string>;
}

export function daemonWorld(prefix: string, options: WorldOptions = {}): DaemonWorld {
  const withBroker = options.broker ?? true;
  let root = "";
  let broker: TestBroker | null = null;
  let bundleDir: string | null = null;
  const watchers: Watcher[] = [];
  const deferred: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    if (withBroker) broker = await startBroker();
    root = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
    if (options.bundle) {
      bundleDir = path.join(root, "bundle");
      await writeConstantBundle(bundleDir);
    }
  });

  afterEach(async () => {
    while (deferred.length > 0) await deferred.pop()?.().catch(() => undefined);
    await killAll();
    for (const w of watchers.splice(0)) await w.close();
    await options.afterEach?.();
  });

  afterAll(async () => {
    await broker?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const world: DaemonWorld = {
    get root() {
      return root;
    },
    get broker() {
      if (!broker) throw new Error("this daemonWorld has no broker (daemonWorld(prefix, { broker: true }))");
      return broker;
    },
    get bundleDir() {
      if (!bundleDir) throw new Error("this daemonWorld has no bundle (daemonWorld(prefix, { bundle: true }))");
      return bundleDir;
    },
    async unit(name, o = {}) {
      const { extraYaml = "", ...config } = o;
      const dir = path.join(root, name);
      const stateDir = path.join(dir, "state");
      const tmp = path.join(dir, "tmp");
      await mkdir(stateDir, { recursive: true });
      await mkdir(tmp, { recursive: true });
      const configPath = path.join(dir, "config.yaml");
      const modelDir = config.modelDir !== undefined ? config.modelDir : world.bundleDir;
      const yaml = configYaml({ ...config, deviceId: name, stateDir, modelDir, brokerUrl: config.brokerUrl ?? world.broker.url });
      await writeFile(configPath, yaml + extraYaml);
      return { deviceId: name, dir, stateDir, tmp, configPath, topic: (s) => `earwitness/${name}/${s}` };
    },
    async watch(unit) {
      const w = await watch(world.broker.url, [`earwitness/${unit.deviceId}/#`], { clientId: `it-${unit.deviceId}`, clean: false });
      watchers.push(w);
      return w;
    },
    defer(cleanup) {
      deferred.push(cleanup);
    },
    async tempDir(prefix) {
      const dir = await mkdtemp(path.join(root, `${prefix}-`));
      deferred.push(() => rm(dir, { recursive: true, force: true }));
      return dir;
    },
  };
  return world;
}
