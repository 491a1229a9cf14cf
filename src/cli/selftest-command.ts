import { hostname } from "node:os";
import { systemClock } from "../clock.js";
import { loadConfig } from "../config/load.js";
import { resolveModelDir } from "../assemble/model.js";
import { TEST_ALERT_MS } from "../daemon/daemon.js";
import { createIndicator } from "../assemble/parts.js";
import { thresholdsOf } from "../daemon/seams.js";
import { connectStatusSocket } from "../status/client.js";
import { formatSelftest, runOutputsSelftest, selftestExitCode } from "../doctor/selftest.js";
import type { Logger } from "../log.js";
import { verifyBundleFiles } from "../model/bundle.js";
import { parse } from "./args.js";

export const SELFTEST_HELP = `earwitness selftest — a test alert through the LED, the buzzer and MQTT (marked test: true)

  --config FILE   configuration (default: /etc/earwitness/config.yaml if present, else built-in defaults)
  --json          print {"parts":[{"name","ok","skipped","detail"}]}

With the daemon running (its status socket answers) the daemon raises the test alert, and the
broker's delivery of it is watched with the configured credentials. Without a daemon, the LED and
buzzer are driven here for ${TEST_ALERT_MS / 1000} s and the test alert is published with QoS 1;
the broker's PUBACK is reported. Exit code 1 when any part failed.
`;

export async function selftestCommand(argv: string[], log: Logger): Promise<number> {
  const { values: v } = parse(argv, {
    config: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (v.help) {
    process.stdout.write(SELFTEST_HELP);
    return 0;
  }
  const config = await loadConfig({ path: v.config as string | undefined, env: process.env, hostname: hostname() });
  log.level = "warn";
  const daemon = await connectStatusSocket(config.status_socket, 1_500).catch(() => null);
  try {
    const parts = await runOutputsSelftest(config, {
      clock: systemClock,
      daemon,
      createIndicator: (c) => createIndicator(c, systemClock, log),
      // The payload names the model; a broken bundle is the doctor's business, not a reason to skip the test.
      modelInfo: async (c) => {
        try {
          const { meta, sha256 } = await verifyBundleFiles(await resolveModelDir(c));
          return { name: meta.name, version: meta.version, sha256 };
        } catch {
          return { name: "unknown", version: "unknown", sha256: "" };
        }
      },
      thresholds: thresholdsOf,
      testAlertMs: TEST_ALERT_MS,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    if (v.json) process.stdout.write(JSON.stringify({ parts }, null, 2) + "\n");
    else process.stdout.write(formatSelftest(parts));
    return selftestExitCode(parts);
  } finally {
    daemon?.close();
  }
}
