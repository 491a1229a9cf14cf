/**
 * A broker that requires a username and password: Mosquitto with a password file made by
 * mosquitto_passwd when both are installed, otherwise aedes with an `authenticate` hook.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { findMosquitto, freePort } from "../broker.js";

export interface AuthBroker {
  url: string;
  kind: "mosquitto" | "aedes";
  stop(): Promise<void>;
}

function findPasswd(mosquitto: string): string | null {
  for (const p of [join(mosquitto, "..", "mosquitto_passwd"), "/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd"]) {
    if (spawnSync(p, ["--help"]).error === undefined) return p;
  }
  return null;
}

async function waitPort(port: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error("broker exited");
    const ok = await new Promise<boolean>((r) => {
      const s = createConnection({ port, host: "127.0.0.1" });
      s.once("connect", () => (s.destroy(), r(true)));
      s.once("error", () => (s.destroy(), r(false)));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("broker did not start");
}

export async function startAuthBroker(username: string, password: string): Promise<AuthBroker> {
  const port = await freePort();
  const mosquitto = process.env.EARWITNESS_TEST_BROKER === "aedes" ? null : findMosquitto();
  const passwd = mosquitto ? findPasswd(mosquitto) : null;
  if (mosquitto && passwd) {
    const dir = await mkdtemp(join(tmpdir(), "ew-auth-broker-"));
    const pwFile = join(dir, "passwd");
    await writeFile(pwFile, "");
    const r = spawnSync(passwd, ["-b", pwFile, username, password], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    const conf = join(dir, "mosquitto.conf");
    await writeFile(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous false", `password_file ${pwFile}`, `user ${userInfo().username}`, "log_dest stderr", "log_type error", ""].join("\n"));
    const child: ChildProcess = spawn(mosquitto, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;
    const kill = (): void => void child.kill("SIGKILL");
    process.once("exit", kill);
    await waitPort(port, alive);
    return {
      url: `mqtt://127.0.0.1:${port}`,
      kind: "mosquitto",
      async stop() {
        process.removeListener("exit", kill);
        if (alive()) {
          const gone = new Promise((res) => child.once("exit", res));
          child.kill("SIGTERM");
          await gone;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker({
    authenticate: (_client, user, pass, done) => {
      const ok = user === username && pass?.toString() === password;
      if (ok) return done(null, true);
      const err = Object.assign(new Error("Bad username or password"), { returnCode: 4 });
      done(err as never, false);
    },
  });
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    kind: "aedes",
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}
