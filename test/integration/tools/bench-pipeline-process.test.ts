/**
 * `earwitness bench` measures the daemon's memory and latency in a process of its own
 * (src/bench/pipeline-process.ts). That process must run on the node flags the systemd unit
 * gives the daemon (src/assemble/node-flags.ts), and on no others, or the bench measures something
 * that does not run. It forks the built file, so this runs dist/ (built by the global setup).
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { shippedModelDir } from "../../../src/assemble/paths.js";
import { DAEMON_NODE_FLAGS } from "../../../src/assemble/node-flags.js";
import { REPO_ROOT } from "../daemon/harness.js";

type PipelineProcessModule = typeof import("../../../src/bench/pipeline-process.js");

describe("the bench's pipeline process", () => {
  it("runs the shipped configuration on DAEMON_NODE_FLAGS, whatever NODE_OPTIONS the bench was given", async () => {
    const built = pathToFileURL(path.join(REPO_ROOT, "dist/src/bench/pipeline-process.js")).href;
    const { runPipelineProcess } = (await import(built)) as PipelineProcessModule;
    const parsed = parseConfig(null, { env: {}, hostname: "bench" });
    if (!parsed.ok) throw new Error(parsed.issues.join("\n"));
    const before = process.env["NODE_OPTIONS"];
    // NODE_OPTIONS would reach the child without showing in its execArgv; this one would stop it.
    process.env["NODE_OPTIONS"] = `--require=${path.join(REPO_ROOT, "no-such-preload.cjs")}`;
    try {
      const result = await runPipelineProcess({
        config: parsed.config,
        modelDir: shippedModelDir(),
        audioSeconds: 4,
        warmupSeconds: 1,
        chunkSamples: 1600,
        seed: 1,
        memoryEverySec: 600,
        loads: 1,
      });
      expect(result.exec_argv).toEqual([...DAEMON_NODE_FLAGS]);
      expect(result.tfjs_loaded).toBe(false);
    } finally {
      if (before === undefined) delete process.env["NODE_OPTIONS"];
      else process.env["NODE_OPTIONS"] = before;
    }
  });
});
