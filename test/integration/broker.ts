/**
 * A real MQTT broker for integration tests (STYLE.md §2: MQTT is tested against a real broker).
 *
 * Mosquitto when it is installed (PATH or /usr/sbin/mosquitto; CI installs it), otherwise aedes
 * in-process. `EARWITNESS_TEST_BROKER=aedes` or `=mosquitto` forces one. Both listen on a free
 * port on 127.0.0.1 and keep retained messages and persistent sessions across `restart()`
 * (Mosquitto via its persistence file, aedes by keeping the broker object and reopening only its
 * TCP listener), so a restart looks like a broker that was down for a while.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";

export type BrokerKind = "mosquitto" | "aedes";

export interface TestBroker {
  url: string;
  port: number;
  kind: BrokerKind;
  /** Stop the broker; idempotent. */
  stop(): Promise<void>;
  /** Stop and start again on the same port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stop without starting again (for tests that start it later with `resume`). */
  pause(): Promise<void>;
  /** Start again after `pause()`. */
  resume(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
let announced = false;

function announce(kind: BrokerKind, detail: string): void {
  if (announced) return;
  announced = true;
  console.log(`[test broker] using ${kind} (${detail})`);
}

/** The mosquitto binary, or null when not installed. */
export function findMosquitto(): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, "mosquitto");
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function waitUntilAccepting(port: number, alive: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`test broker exited before accepting connections: ${what()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`test broker did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms: ${what()}`);
}

export async function startBroker(): Promise<TestBroker> {
  const forced = process.env.EARWITNESS_TEST_BROKER;
  if (forced !== undefined && forced !== "" && forced !== "aedes" && forced !== "mosquitto") {
    throw new Error(`EARWITNESS_TEST_BROKER must be "aedes" or "mosquitto" (got "${forced}")`);
  }
  const mosquitto = forced === "aedes" ? null : findMosquitto();
  if (forced === "mosquitto" && mosquitto === null) {
    throw new Error("EARWITNESS_TEST_BROKER=mosquitto but mosquitto is not installed (apt-get install mosquitto)");
  }
  const port = await freePort();
  if (mosquitto !== null) {
    announce("mosquitto", mosquitto);
    return startMosquitto(mosquitto, port);
  }
  announce("aedes", forced === "aedes" ? "forced by EARWITNESS_TEST_BROKER" : "mosquitto not installed");
  return startAedes(port);
}

async function startMosquitto(bin: string, port: number): Promise<TestBroker> {
  const dir = await mkdtemp(join(tmpdir(), "earwitness-mosquitto-"));
  const configPath = join(dir, "mosquitto.conf");
  // Run as whoever we are: as root, mosquitto would otherwise switch to the "mosquitto" user,
  // which cannot write the persistence file in our temp dir.
  await writeFile(
    configPath,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${dir}/`,
      `user ${userInfo().username}`,
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "",
    ].join("\n"),
  );
  let child: ChildProcess | null = null;

  const running = (proc: ChildProcess | null): proc is ChildProcess =>
    proc !== null && proc.exitCode === null && proc.signalCode === null;

  const launch = async (): Promise<void> => {
    if (running(child)) return; // already up: resume() after restart() is harmless
    let stderr = "";
    const proc = spawn(bin, ["-c", configPath], { stdio: ["ignore", "ignore", "pipe"] });
    proc.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child = proc;
    // Never leave a broker behind if the test process dies without calling stop().
    const killOnExit = (): void => void proc.kill("SIGKILL");
    process.once("exit", killOnExit);
    proc.once("exit", () => process.removeListener("exit", killOnExit));
    await waitUntilAccepting(port, () => running(proc), () => stderr || "(no output)");
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!running(proc)) return;
    const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await gone;
    clearTimeout(timer);
  };

  await launch();
  let stopped = false;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    kind: "mosquitto",
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
    pause: halt,
    resume: launch,
  };
}

async function startAedes(port: number): Promise<TestBroker> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  let server: Server | null = null;
  const sockets = new Set<Socket>();

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (server) return resolve(); // already up
      const s = createServer((socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
        broker.handle(socket);
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        server = s;
        resolve();
      });
    });

  const unlisten = async (): Promise<void> => {
    const s = server;
    server = null;
    if (!s) return;
    // Sockets destroyed without DISCONNECT: clients see a dead broker, as with a crash.
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  let stopped = false;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    kind: "aedes",
    async stop() {
      if (stopped) return;
      stopped = true;
      await unlisten();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
    async restart() {
      await unlisten();
      await listen();
    },
    pause: unlisten,
    resume: listen,
  };
}
