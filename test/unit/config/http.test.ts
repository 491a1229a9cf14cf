import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { isLoopbackHost } from "../../../src/config/schema.js";

const parse = (text: string) => parseConfig(text, { env: {}, hostname: "host", sourceName: "test.yaml" });

describe("http config", () => {
  it("defaults to the status page on 127.0.0.1:8787 without a token", () => {
    const r = parse("");
    if (!r.ok) throw new Error(r.issues.join("\n"));
    expect(r.config.http).toEqual({ enabled: true, bind: "127.0.0.1", port: 8787, token: null });
  });

  it("refuses a bind beyond this machine without a token, and says what to do", () => {
    const r = parse("http: { bind: 0.0.0.0 }");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.join("\n")).toMatch(/http\.bind 0\.0\.0\.0 .*set http\.token/);
    expect(parse("http: { bind: 0.0.0.0, token: 0123456789abcdef }").ok).toBe(true);
    expect(parse("http: { bind: 0.0.0.0, enabled: false }").ok).toBe(true);
    expect(parse('http: { bind: "::1" }').ok).toBe(true);
  });

  it("refuses a short token and a port out of range", () => {
    const r = parse("http: { token: short, port: 70000 }");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.some((i) => i.includes("http.token"))).toBe(true);
    expect(r.issues.some((i) => i.includes("http.port"))).toBe(true);
  });

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "192.168.1.2", "::", "localhost.evil.example", "1127.0.0.1"]) expect(isLoopbackHost(h)).toBe(false);
  });
});
