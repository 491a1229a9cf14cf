/**
 * Parsing of the `set` command topics (contract.ts). Pure, never throws: anything a person or a
 * misconfigured automation can publish comes back as a specific error that the sink answers on
 * `set/result`.
 *
 * - `set`: JSON `{"command": "arm" | "disarm" | "unmute" | "test" | "ack" | "reset_adaptation"}` or
 *   `{"command": "mute", "minutes": 1..1440}`, with an optional `"id"` echoed in the result.
 *   `reset_adaptation` forgets what the unit learnt of its wearer's voice and room (for a unit
 *   moved to another person or room); it has no topic of its own: the Home Assistant button
 *   sends this JSON to `set`.
 *   The plain strings `ON` / `OFF` are accepted too (arm / disarm).
 * - `set/armed`: `ON` / `OFF`, what a Home Assistant `switch` sends (payload_on / payload_off).
 * - `set/test`, `set/ack`: `PRESS`, what a Home Assistant `button` sends (payload_press).
 * - `set/mute`: a whole number of minutes 1..1440 as text (`30` or `30.0`, what a Home Assistant
 *   number sends), or `0` to unmute.
 */
import type { CommandTopic } from "./contract.js";

export const MUTE_MINUTES_MIN = 1;
export const MUTE_MINUTES_MAX = 1440;
/** Commands are tiny; anything bigger is a mistake or abuse and is not parsed. */
export const MAX_COMMAND_BYTES = 4096;
const MAX_ID_LENGTH = 64;

export type Command =
  | { command: "arm" }
  | { command: "disarm" }
  | { command: "mute"; minutes: number }
  | { command: "unmute" }
  | { command: "test" }
  | { command: "ack" }
  | { command: "reset_adaptation" };

export type CommandName = Command["command"];

export const KNOWN_COMMANDS: readonly CommandName[] = ["arm", "disarm", "mute", "unmute", "test", "ack", "reset_adaptation"];

export type CommandParseResult =
  | { ok: true; command: Command; id: string | null }
  | { ok: false; error: string; id: string | null };

function fail(error: string, id: string | null = null): CommandParseResult {
  return { ok: false, error, id };
}

function ok(command: Command, id: string | null = null): CommandParseResult {
  return { ok: true, command, id };
}

/** Show a received value in an error message, short and on one line. */
function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function minutesError(got: unknown): string {
  return `minutes must be ${MUTE_MINUTES_MIN}..${MUTE_MINUTES_MAX} (got ${show(got)})`;
}

function isValidMinutes(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= MUTE_MINUTES_MIN && value <= MUTE_MINUTES_MAX;
}

/** Parse one message received on a command topic. */
export function parseCommand(topic: CommandTopic, payload: Buffer | string): CommandParseResult {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_COMMAND_BYTES) return fail(`payload too large (${size} bytes, max ${MAX_COMMAND_BYTES})`);
  const text = (typeof payload === "string" ? payload : payload.toString("utf8")).trim();

  switch (topic) {
    case "set":
      return parseJsonCommand(text);
    case "set/armed":
      return parseOnOff(text);
    case "set/test":
      return parsePress(text, { command: "test" });
    case "set/ack":
      return parsePress(text, { command: "ack" });
    case "set/mute":
      return parseMuteText(text);
    default: {
      const unknownTopic: never = topic;
      return fail(`unknown command topic ${show(unknownTopic)}`);
    }
  }
}

function parseOnOff(text: string): CommandParseResult {
  const upper = text.toUpperCase();
  if (upper === "ON") return ok({ command: "arm" });
  if (upper === "OFF") return ok({ command: "disarm" });
  return fail(`expected ON or OFF (got ${show(text)})`);
}

function parsePress(text: string, command: Command): CommandParseResult {
  if (text.toUpperCase() === "PRESS") return ok(command);
  return fail(`expected PRESS (got ${show(text)})`);
}

function parseMuteText(text: string): CommandParseResult {
  // A Home Assistant number may send "30.0"; a whole number of minutes either way.
  if (!/^\d+(\.0+)?$/.test(text)) return fail(minutesError(text));
  const minutes = Number(text);
  if (minutes === 0) return ok({ command: "unmute" });
  if (!isValidMinutes(minutes)) return fail(minutesError(minutes));
  return ok({ command: "mute", minutes });
}

function parseJsonCommand(text: string): CommandParseResult {
  if (text === "") return fail(`empty payload; expected JSON like {"command":"arm"}`);
  const upper = text.toUpperCase();
  // A switch pointed at the bare `set` topic still works.
  if (upper === "ON" || upper === "OFF") return parseOnOff(text);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(`not JSON: expected {"command":"arm"} (got ${show(text)})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(`expected a JSON object like {"command":"arm"} (got ${show(value)})`);
  }
  const body = value as Record<string, unknown>;

  let id: string | null = null;
  if (body.id !== undefined) {
    if ((typeof body.id !== "string" && typeof body.id !== "number") || String(body.id).length > MAX_ID_LENGTH) {
      return fail(`id must be a string or number of at most ${MAX_ID_LENGTH} characters (got ${show(body.id)})`);
    }
    id = String(body.id);
  }

  const name = body.command;
  if (name === undefined) return fail(`missing "command"; known: ${KNOWN_COMMANDS.join(", ")}`, id);
  if (typeof name !== "string" || !(KNOWN_COMMANDS as readonly string[]).includes(name)) {
    return fail(`unknown command ${show(name)}; known: ${KNOWN_COMMANDS.join(", ")}`, id);
  }

  switch (name as CommandName) {
    case "mute":
      if (body.minutes === undefined) return fail(`minutes is required for mute (${MUTE_MINUTES_MIN}..${MUTE_MINUTES_MAX})`, id);
      if (!isValidMinutes(body.minutes)) return fail(minutesError(body.minutes), id);
      return ok({ command: "mute", minutes: body.minutes }, id);
    case "arm":
      return ok({ command: "arm" }, id);
    case "disarm":
      return ok({ command: "disarm" }, id);
    case "unmute":
      return ok({ command: "unmute" }, id);
    case "test":
      return ok({ command: "test" }, id);
    case "ack":
      return ok({ command: "ack" }, id);
    case "reset_adaptation":
      return ok({ command: "reset_adaptation" }, id);
  }
}
