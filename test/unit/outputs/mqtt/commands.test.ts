import { describe, expect, it } from "vitest";
import { KNOWN_COMMANDS, MAX_COMMAND_BYTES, parseCommand } from "../../../../src/outputs/mqtt/commands.js";

describe("parseCommand on set (JSON)", () => {
  it.each([
    ['{"command":"arm"}', { command: "arm" }],
    ['{"command":"disarm"}', { command: "disarm" }],
    ['{"command":"mute","minutes":30}', { command: "mute", minutes: 30 }],
    ['{"command":"mute","minutes":1}', { command: "mute", minutes: 1 }],
    ['{"command":"mute","minutes":1440}', { command: "mute", minutes: 1440 }],
    ['{"command":"unmute"}', { command: "unmute" }],
    ['{"command":"test"}', { command: "test" }],
    ['  {"command":"ack"}\n', { command: "ack" }],
    ['{"command":"reset_adaptation"}', { command: "reset_adaptation" }],
    ["ON", { command: "arm" }],
    ["off", { command: "disarm" }],
  ])("accepts %s", (payload, command) => {
    expect(parseCommand("set", payload)).toEqual({ ok: true, command, id: null });
  });

  it("accepts a Buffer and echoes an id", () => {
    expect(parseCommand("set", Buffer.from('{"command":"test","id":42}'))).toEqual({
      ok: true,
      command: { command: "test" },
      id: "42",
    });
  });

  it.each([
    ["", /^empty payload/],
    ["   ", /^empty payload/],
    ["arm", /^not JSON/],
    ['{"command":"arm"', /^not JSON/],
    ["\u0000\u0001", /^not JSON/],
    ["42", /^expected a JSON object/],
    ["null", /^expected a JSON object/],
    ['"arm"', /^expected a JSON object/],
    ['["arm"]', /^expected a JSON object/],
    ["{}", /^missing "command"; known: arm, disarm, mute, unmute, test, ack, reset_adaptation$/],
    ['{"command":"x"}', /^unknown command "x"; known: arm, disarm, mute, unmute, test, ack, reset_adaptation$/],
    ['{"command":"ARM"}', /^unknown command "ARM"; known:/],
    ['{"command":7}', /^unknown command 7; known:/],
    ['{"command":null}', /^unknown command null; known:/],
    ['{"command":"mute"}', /^minutes is required for mute \(1\.\.1440\)$/],
    ['{"command":"mute","minutes":0}', /^minutes must be 1\.\.1440 \(got 0\)$/],
    ['{"command":"mute","minutes":1441}', /^minutes must be 1\.\.1440 \(got 1441\)$/],
    ['{"command":"mute","minutes":-5}', /^minutes must be 1\.\.1440 \(got -5\)$/],
    ['{"command":"mute","minutes":2.5}', /^minutes must be 1\.\.1440 \(got 2\.5\)$/],
    ['{"command":"mute","minutes":"30"}', /^minutes must be 1\.\.1440 \(got "30"\)$/],
    ['{"command":"mute","minutes":null}', /^minutes must be 1\.\.1440 \(got null\)$/],
    ['{"command":"mute","minutes":1e999}', /^minutes must be 1\.\.1440/],
    ['{"command":"arm","id":{"a":1}}', /^id must be a string or number/],
    [`{"command":"arm","id":"${"x".repeat(65)}"}`, /^id must be a string or number of at most 64/],
  ])("rejects %j with a specific error", (payload, error) => {
    const result = parseCommand("set", payload);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(error);
  });

  it("parses reset_adaptation with an id, and only in its exact spelling", () => {
    expect(parseCommand("set", '{"command":"reset_adaptation","id":"move-1"}')).toEqual({
      ok: true,
      command: { command: "reset_adaptation" },
      id: "move-1",
    });
    // Extra fields are ignored, as for every command (an automation may add its own).
    expect(parseCommand("set", '{"command":"reset_adaptation","minutes":5}')).toEqual({ ok: true, command: { command: "reset_adaptation" }, id: null });
    for (const wrong of ["reset-adaptation", "RESET_ADAPTATION", "reset", "reset_adaptation "]) {
      const result = parseCommand("set", JSON.stringify({ command: wrong, id: 7 }));
      expect(result).toMatchObject({ ok: false, id: "7" });
      if (!result.ok) expect(result.error).toMatch(/^unknown command .*; known: .*reset_adaptation$/);
    }
    // The plain-text topics of Home Assistant never mean it: the button sends the JSON to `set`.
    expect(parseCommand("set/test", '{"command":"reset_adaptation"}')).toMatchObject({ ok: false });
    expect(parseCommand("set", "reset_adaptation")).toMatchObject({ ok: false, error: expect.stringMatching(/^not JSON/) });
  });

  it("keeps the id of a rejected command so the sender can correlate the answer", () => {
    expect(parseCommand("set", '{"command":"nope","id":"abc"}')).toMatchObject({ ok: false, id: "abc" });
  });

  it("shortens long values in error messages", () => {
    const result = parseCommand("set", `{"command":"${"y".repeat(500)}"}`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.length).toBeLessThan(120);
  });

  it("refuses oversized payloads without parsing them", () => {
    const result = parseCommand("set", Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20));
    expect(result).toEqual({ ok: false, error: `payload too large (${MAX_COMMAND_BYTES + 1} bytes, max ${MAX_COMMAND_BYTES})`, id: null });
  });

  it("never throws, whatever arrives", () => {
    const samples = ["{", "}", "[]", "{\"command\":{}}", "\uFFFD", "__proto__", '{"__proto__":{"command":"arm"}}', "1e999"];
    for (const s of samples) expect(() => parseCommand("set", s)).not.toThrow();
    expect(parseCommand("set", '{"__proto__":{"command":"arm"}}').ok).toBe(false);
    expect(KNOWN_COMMANDS).toEqual(["arm", "disarm", "mute", "unmute", "test", "ack", "reset_adaptation"]);
  });
});

describe("parseCommand on Home Assistant topics", () => {
  it("maps the switch's ON/OFF on set/armed to arm/disarm", () => {
    expect(parseCommand("set/armed", "ON")).toEqual({ ok: true, command: { command: "arm" }, id: null });
    expect(parseCommand("set/armed", "OFF")).toEqual({ ok: true, command: { command: "disarm" }, id: null });
    expect(parseCommand("set/armed", " on ")).toMatchObject({ ok: true, command: { command: "arm" } });
    expect(parseCommand("set/armed", "maybe")).toEqual({ ok: false, error: 'expected ON or OFF (got "maybe")', id: null });
    expect(parseCommand("set/armed", "")).toMatchObject({ ok: false, error: 'expected ON or OFF (got "")' });
  });

  it("maps the button's PRESS on set/test and set/ack", () => {
    expect(parseCommand("set/test", "PRESS")).toEqual({ ok: true, command: { command: "test" }, id: null });
    expect(parseCommand("set/ack", "PRESS")).toEqual({ ok: true, command: { command: "ack" }, id: null });
    expect(parseCommand("set/test", "ON")).toEqual({ ok: false, error: 'expected PRESS (got "ON")', id: null });
  });

  it("reads minutes as text on set/mute, 0 unmutes", () => {
    expect(parseCommand("set/mute", "15")).toEqual({ ok: true, command: { command: "mute", minutes: 15 }, id: null });
    expect(parseCommand("set/mute", "0")).toEqual({ ok: true, command: { command: "unmute" }, id: null });
    expect(parseCommand("set/mute", "1441")).toMatchObject({ ok: false, error: "minutes must be 1..1440 (got 1441)" });
    expect(parseCommand("set/mute", "1.5")).toMatchObject({ ok: false, error: 'minutes must be 1..1440 (got "1.5")' });
    expect(parseCommand("set/mute", "-1")).toMatchObject({ ok: false });
    expect(parseCommand("set/mute", "")).toMatchObject({ ok: false });
  });
});
