import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { notifyDaemon, PID_FILE, pidFilePath, removePidFileSync, writePidFile } from "../../../src/status/pid-file.js";

let stateDir: string;
let child: ChildProcess | null = null;

beforeEach(async () => {
  stateDir = path.join(await mkdtemp(path.join(tmpdir(), "earwitness-pid-file-")), "state");
});

afterEach(async () => {
  child?.kill("SIGKILL");
  child = null;
  await rm(path.dirname(stateDir), { recursive: true, force: true });
});

describe("the pid file", () => {
  it("is written into the state dir (created if missing) and removed only while it still names this process", async () => {
    const file = await writePidFile(stateDir, 4242);
    expect(file).toBe(path.join(stateDir, PID_FILE));
    expect(await readFile(file, "utf8")).toBe("4242\n");
    // A later daemon owns the file now: an exiting one leaves it alone.
    removePidFileSync(file, 1234);
    expect(existsSync(file)).toBe(true);
    removePidFileSync(file, 4242);
    expect(existsSync(file)).toBe(false);
    // Already gone: nothing to do, no error.
    removePidFileSync(file, 4242);
  });
});

describe("notifyDaemon", () => {
  it("sends SIGHUP to the earwitness process in the pid file", async () => {
    // "earwitness" in its command line, as the real daemon has.
    child = spawn(process.execPath, ["-e", "process.on('SIGHUP',()=>{process.stdout.write('hup\\n');process.exit(0)});process.stdout.write('ready\\n');setInterval(()=>{},1000)", "earwitness-fake-daemon"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("fake daemon did not start within 20 s")), 20_000);
      child!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await writePidFile(stateDir, child.pid!);
    expect(await notifyDaemon(stateDir)).toEqual({ status: "notified", pid: child.pid });
    expect(await exited).toBe(0);
    expect(out).toContain("hup");
  });

  it("does not signal a process that is not earwitness (stale pid file), nor fail without a pid file", async () => {
    expect((await notifyDaemon(stateDir)).status).toBe("not-running");
    child = spawn("sleep", ["30"], { stdio: "ignore" });
    await writePidFile(stateDir, child.pid!);
    expect((await notifyDaemon(stateDir)).status).toBe("not-running");
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
  });

  it("reports a pid file that holds no pid as a failure, without signalling anything", async () => {
    await writePidFile(stateDir, 1);
    await writeFile(pidFilePath(stateDir), "not a pid\n");
    expect(await notifyDaemon(stateDir)).toMatchObject({ status: "failed", reason: expect.stringMatching(/holds no valid pid/) });
  });
});
