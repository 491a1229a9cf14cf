/**
 * Whether a configuration reaches anyone. The example config ships with MQTT off and every GPIO
 * line null: a daemon started on it listens, decides, and tells no one, while its log says
 * "ready". `run` refuses such a configuration and `config check` and `doctor` fail on it.
 */
import type { Config } from "./schema.js";

export const NO_OUTPUT_MESSAGE =
  "no output configured: set gpio.* or mqtt.* (gpio.led or gpio.buzzer with gpio.driver: onoff, or mqtt.enabled: true with mqtt.url); " +
  "without one an alert reaches no one";

/** The outputs that would carry an alert, e.g. ["gpio led GPIO17", "mqtt mqtt://hub:1883"]; empty = none. */
export function configuredOutputs(config: Pick<Config, "gpio" | "mqtt">): string[] {
  const out: string[] = [];
  const g = config.gpio;
  if (g.driver === "console") out.push("console (LED and buzzer printed to the log)");
  if (g.driver === "onoff") {
    // The button alone tells no one: only the LED and the buzzer carry an alert.
    for (const name of ["led", "buzzer"] as const) {
      const pin = g[name].pin;
      if (pin !== null) out.push(`gpio ${name} ${typeof pin === "number" ? `GPIO${pin}` : `${pin.chip} line ${pin.line}`}`);
    }
  }
  if (config.mqtt.enabled && config.mqtt.url !== null) out.push(`mqtt ${config.mqtt.url}`);
  return out;
}
