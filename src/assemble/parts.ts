/**
 * The part factories every command shares: the microphone and the indicator (GPIO, console or
 * none) as the configuration describes them. The daemon's real dependencies (daemon/real-deps.ts),
 * `doctor`, `calibrate` and `selftest` build them here, so a tool tests the parts the daemon runs.
 */
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import { Microphone } from "../audio/microphone.js";
import type { Logger } from "../log.js";
import { createConsoleIndicator } from "../outputs/gpio/console-indicator.js";
import { DEFAULT_GPIO_OPTIONS, GpioIndicator } from "../outputs/gpio/indicator.js";
import { loadOnoffDriver, type LineSpec } from "../outputs/gpio/line.js";
import type { IndicatorOutput } from "../daemon/seams.js";

export function createMicrophone(config: Config, clock: Clock, log: Logger): Microphone {
  const a = config.audio;
  return new Microphone(
    {
      source: a.source,
      device: a.device,
      stallTimeoutMs: a.stall_timeout_s * 1000,
      backoffMinMs: a.restart_backoff_min_s * 1000,
      backoffMaxMs: a.restart_backoff_max_s * 1000,
      silenceDbfs: a.silence_dbfs,
      silentForMs: a.silent_for_s * 1000,
      clipForMs: a.clip_for_s * 1000,
      waitForDeviceMs: a.wait_for_device_s * 1000,
    },
    { clock, log },
  );
}

function lineSpec(line: Config["gpio"]["led"]): LineSpec | null {
  return line.pin === null ? null : { pin: line.pin, activeLow: line.active_low };
}

/** The configured indicator: onoff GPIO, the console, or none. Configured GPIO that cannot work throws. */
export async function createIndicator(config: Config, clock: Clock, log: Logger): Promise<IndicatorOutput | null> {
  const g = config.gpio;
  const patterns = {
    heartbeat: g.heartbeat,
    buzzerMaxOnMs: g.buzzer_max_on_s * 1000,
    buzzerPatternMs: g.buzzer_pattern_ms,
    testAlertMs: DEFAULT_GPIO_OPTIONS.testAlertMs,
  };
  if (g.driver === "none") return null;
  if (g.driver === "console") return createConsoleIndicator({ clock, log, options: patterns }).indicator;
  const led = lineSpec(g.led);
  const buzzer = lineSpec(g.buzzer);
  const button = lineSpec(g.button);
  if (!led && !buzzer && !button) return null; // nothing wired: no need for onoff at all
  const driver = await loadOnoffDriver();
  return new GpioIndicator(
    driver,
    { ...DEFAULT_GPIO_OPTIONS, ...patterns, led, buzzer, button },
    clock,
    log.child({ component: "gpio" }),
  );
}
