/**
 * The node flags are written once (src/assemble/node-flags.ts) and the unit file, which systemd
 * reads as it is (scripts/install.sh only swaps /usr/bin/node for the node it finds), carries
 * them between node and the script: this holds the two equal, so what `npm run bench` measures
 * (its detection process is forked with DAEMON_NODE_FLAGS) is what the installed daemon runs.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DAEMON_NODE_FLAGS } from "../../../src/assemble/node-flags.js";

const UNIT = readFileSync(fileURLToPath(new URL("../../../systemd/earwitness.service", import.meta.url)), "utf8");

/** The unit's directives of one name, comments and line continuations aside. */
function directives(name: string): string[] {
  return UNIT.replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => line.startsWith(`${name}=`))
    .map((line) => line.slice(name.length + 1).trim());
}

describe("the daemon's node flags", () => {
  it("systemd/earwitness.service starts node with DAEMON_NODE_FLAGS, between node and the script", () => {
    const [execStart, ...more] = directives("ExecStart");
    expect(more).toEqual([]);
    const words = execStart!.split(/\s+/);
    expect(words[0]).toBe("/usr/bin/node");
    const script = words.indexOf("/opt/earwitness/dist/src/cli/main.js");
    expect(script).toBeGreaterThan(0);
    expect(words.slice(1, script)).toEqual([...DAEMON_NODE_FLAGS]);
    expect(words.slice(script + 1)).toEqual(["run", "--config", "/etc/earwitness/config.yaml"]);
  });

  it("the unit sets no NODE_OPTIONS, which would add flags that neither the bench nor process.execArgv shows", () => {
    expect(directives("Environment").join(" ")).not.toMatch(/NODE_OPTIONS/);
  });

  it("node starts with them, silently (a typo would stop the daemon at every restart)", () => {
    const r = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, "-e", "0"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
