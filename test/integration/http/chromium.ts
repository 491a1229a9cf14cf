/**
 * Debian's headless Chromium driven through the DevTools protocol (CDP) over a WebSocket: enough
 * to open a page, click where a real user would, read the DOM and take a screenshot. No
 * playwright: one browser process, one page, a dozen protocol methods
 * (https://chromedevtools.github.io/devtools-protocol/).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import WebSocket from "ws";

export const CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The browser to use, or null when none is installed (the test then says loudly that it skipped). */
export function findChromium(): string | null {
  const fromEnv = process.env.EARWITNESS_CHROMIUM;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export interface Browser {
  /** A new tab at `url`, resolved once its page has loaded. */
  open(url: string, viewport: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export interface Page {
  /** Evaluates an expression in the page; returns its (JSON-able) value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Polls `expression` until it is truthy, or throws after `timeoutMs` saying `what`. */
  waitFor<T>(expression: string, what: string, timeoutMs?: number): Promise<T>;
  /** A real mouse click (press and release) at the centre of the element `selector` matches. */
  click(selector: string): Promise<void>;
  screenshot(): Promise<Buffer>;
}

export async function launchChromium(executable: string, userDataDir: string): Promise<Browser> {
  const child = spawn(
    executable,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      `--user-data-dir=${userDataDir}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (t: string) => (stderr = (stderr + t).slice(-4000)));
  try {
    const wsUrl = await devtoolsUrl(child, userDataDir, () => stderr);
    const cdp = await Cdp.connect(wsUrl);
    return {
      open: (url, viewport) => openPage(cdp, url, viewport),
      async close() {
        cdp.close();
        await stopChild(child);
      },
    };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** Chromium writes its port and browser path to DevToolsActivePort once it listens. */
async function devtoolsUrl(child: ChildProcess, userDataDir: string, stderr: () => string): Promise<string> {
  const file = path.join(userDataDir, "DevToolsActivePort");
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = await readFile(file, "utf8").catch(() => "");
    const [port, browserPath] = text.split("\n");
    if (port && browserPath) return `ws://127.0.0.1:${port.trim()}${browserPath.trim()}`;
    if (child.exitCode !== null) throw new Error(`chromium exited (${child.exitCode}) before listening: ${stderr()}`);
    if (Date.now() > deadline) throw new Error(`chromium did not open its DevTools port within 30 s: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** One browser-level connection; pages are flat sessions on it. */
class Cdp {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(m: CdpMessage) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const m = JSON.parse(data.toString("utf8")) as CdpMessage;
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(`CDP: ${m.error.message}`));
        else p?.resolve(m.result ?? {});
      } else {
        for (const l of this.listeners) l(m);
      }
    });
    ws.on("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("CDP connection closed"));
      this.pending.clear();
    });
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once("open", () => resolve(new Cdp(ws)));
      ws.once("error", reject);
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  once(pred: (m: CdpMessage) => boolean, timeoutMs: number, what: string): Promise<CdpMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(l);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const l = (m: CdpMessage): void => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.listeners.delete(l);
        resolve(m);
      };
      this.listeners.add(l);
    });
  }

  close(): void {
    this.ws.close();
  }
}

async function openPage(cdp: Cdp, url: string, viewport: { width: number; height: number }): Promise<Page> {
  const { targetId } = (await cdp.send("Target.createTarget", { url: "about:blank" })) as { targetId: string };
  const { sessionId } = (await cdp.send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
  const send = (method: string, params: Record<string, unknown> = {}) => cdp.send(method, params, sessionId);
  await send("Page.enable");
  await send("Runtime.enable");
  await send("Emulation.setDeviceMetricsOverride", { width: viewport.width, height: viewport.height, deviceScaleFactor: 1, mobile: false });
  const loaded = cdp.once((m) => m.sessionId === sessionId && m.method === "Page.loadEventFired", 20_000, `${url} to load`);
  const nav = (await send("Page.navigate", { url })) as { errorText?: string };
  if (nav.errorText) throw new Error(`cannot open ${url}: ${nav.errorText}`);
  await loaded;

  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = (await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  };
  return {
    evaluate,
    async waitFor<T>(expression: string, what: string, timeoutMs = 15_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await evaluate<T>(expression);
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} in the page`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async click(selector: string): Promise<void> {
      const box = await evaluate<{ x: number; y: number } | null>(
        `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: "center" });` +
          ` const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`,
      );
      if (!box) throw new Error(`nothing in the page matches ${selector}`);
      for (const type of ["mouseMoved", "mousePressed", "mouseReleased"]) {
        await send("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: type === "mouseMoved" ? "none" : "left", clickCount: 1 });
      }
    },
    async screenshot(): Promise<Buffer> {
      const { data } = (await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true })) as { data: string };
      return Buffer.from(data, "base64");
    },
  };
}
