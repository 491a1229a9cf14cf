import { afterEach, describe, expect, it } from "vitest";
import { formatTextLine, quietTfjsConsole, resolveLogFormat } from "../../src/log.js";
import { captureLogger } from "../fakes/capture-logger.js";

describe("log format", () => {
  it("defaults to text under journald, pretty on a terminal, JSON otherwise; a configured one wins", () => {
    expect(resolveLogFormat(null, { JOURNAL_STREAM: "8:12345" }, false)).toBe("text");
    expect(resolveLogFormat(null, {}, false)).toBe("json");
    expect(resolveLogFormat(null, {}, true)).toBe("pretty");
    expect(resolveLogFormat(null, { JOURNAL_STREAM: "8:12345" }, true)).toBe("pretty");
    expect(resolveLogFormat("json", { JOURNAL_STREAM: "8:12345" }, false)).toBe("json");
    expect(resolveLogFormat("text", {}, true)).toBe("text");
  });

  it("writes a record as LEVEL component: message key=value", () => {
    const line = formatTextLine({ level: 30, time: "2025-01-01T00:00:00Z", component: "mqtt", msg: "alert delivered", id: "a-1", age_ms: 42, pid: 7 });
    expect(line).toBe("INFO mqtt: alert delivered id=a-1 age_ms=42\n");
    expect(formatTextLine({ level: 40, msg: "muted: no alerts until the mute ends", minutes: 30 }, true)).toBe("<4>WARN muted: no alerts until the mute ends minutes=30\n");
    expect(formatTextLine({ level: 50, component: "daemon", msg: "x", err: { type: "OutputError", message: "port taken", code: "HTTP_UNAVAILABLE", stack: "at …" } })).toBe(
      'ERROR daemon: x error="port taken" code=HTTP_UNAVAILABLE\n',
    );
    expect(formatTextLine({ level: 30, msg: "model loaded", model: { name: "gru", version: "1" }, url: "http://127.0.0.1:8787/" })).toBe(
      'INFO model loaded model={"name":"gru","version":"1"} url=http://127.0.0.1:8787/\n',
    );
  });
});

describe("tfjs console chatter", () => {
  const original = console.warn;
  afterEach(() => {
    console.warn = original;
  });

  it("goes to the log at debug; other warnings still reach the console", () => {
    const seen: unknown[][] = [];
    console.warn = (...args: unknown[]) => void seen.push(args);
    const logs = captureLogger();
    quietTfjsConsole(logs.log);
    console.warn("\n============================\nHi, looks like you are running TensorFlow.js in Node.js. To speed things up dramatically, install our node backend\n============================");
    console.warn("Orthogonal initializer is being called on a matrix with more than 2000 (65536) elements: Slowness may result.");
    console.warn("something else");
    expect(seen).toEqual([["something else"]]);
    expect(logs.lines.filter((l) => l.component === "tfjs").map((l) => [l.level, l.msg.slice(0, 30)])).toEqual([
      [20, "Hi, looks like you are running"],
      [20, "Orthogonal initializer is bein"],
    ]);
  });
});
