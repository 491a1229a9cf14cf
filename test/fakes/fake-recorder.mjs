/* global process, Buffer, setInterval, performance */
/**
 * A stand-in for `arecord` and `sox` used by the microphone tests (test/fakes/arecord, test/fakes/sox
 * call run()). It checks that it got the arguments the real tools need for raw S16_LE 16 kHz mono,
 * then streams PCM to stdout at real-time rate (times FAKE_ARECORD_SPEED) until killed.
 *
 * Environment:
 *   FAKE_ARECORD_WAV=/path.wav    stream that file's PCM (16-bit mono 16 kHz only); otherwise a tone
 *   FAKE_ARECORD_END=loop|exit|stall   what to do when the WAV data ends (default loop)
 *   FAKE_ARECORD_MODE=normal | exit-after:<ms> | stall-after:<ms> | garbage | silence | clip
 *                   | missing-device
 *   FAKE_ARECORD_SPEED=<factor>   1 = real time (garbage defaults to 4: an implausible rate)
 *   FAKE_ARECORD_CHUNK_BYTES=<n>  bytes per write (default 640 = 20 ms); odd sizes split samples
 *   FAKE_ARECORD_DEVICE_FILE=/p   behave as missing-device until this file exists (a late USB mic)
 *   FAKE_ARECORD_IGNORE_TERM=1    ignore SIGTERM (so the caller must escalate to SIGKILL)
 *   FAKE_ARECORD_LOG=/path        append one JSON line {pid, name, args, mode} per start
 *   FAKE_ARECORD_FAIL_RUNS=<n>    apply FAKE_ARECORD_MODE only to the first n starts (counted in
 *                                 FAKE_ARECORD_LOG), then behave normally: a failure that recovers
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

const BYTES_PER_MS = 32; // 16 000 samples/s × 2 bytes

/** The error texts the real tools print when the ALSA device is absent. */
const MISSING_DEVICE_TEXT = {
  arecord: "arecord: main:831: audio open error: No such file or directory",
  sox: "sox FAIL formats: can't open input  `hw:9,0': snd_pcm_open error: No such file or directory",
};

function fail(name, text, code) {
  process.stderr.write(`${text}\n`);
  process.exit(code);
}

/** Returns the device name, or exits like the real tool would on arguments it cannot honour. */
function checkArgs(name, args) {
  const joined = args.join(" ");
  if (name === "arecord") {
    const d = args.indexOf("-D");
    const required = ["-t raw", "-f S16_LE", "-r 16000", "-c 1"];
    if (d < 0 || args[d + 1] === undefined || required.some((r) => !joined.includes(r))) {
      fail(name, `fake arecord: unsupported arguments: ${joined}`, 64);
    }
    return args[d + 1];
  }
  const t = args.indexOf("alsa");
  const required = ["-t raw", "-r 16000", "-e signed", "-b 16", "-c 1"];
  if (args[t - 1] !== "-t" || args[t + 1] === undefined || args.at(-1) !== "-" || required.some((r) => !joined.includes(r))) {
    fail(name, `fake sox: unsupported arguments: ${joined}`, 64);
  }
  return args[t + 1];
}

/** The PCM payload of a 16-bit mono 16 kHz PCM WAV file; just enough RIFF parsing for fixtures. */
function readWavPcm(name, path) {
  const buf = readFileSync(path);
  if (buf.toString("ascii", 0, 4) !== "RIFF" || buf.toString("ascii", 8, 12) !== "WAVE") {
    fail(name, `fake ${name}: ${path} is not a RIFF/WAVE file`, 65);
  }
  let fmtOk = false;
  for (let off = 12; off + 8 <= buf.length; ) {
    const id = buf.toString("ascii", off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === "fmt ") {
      const format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      const rate = buf.readUInt32LE(body + 4);
      const bits = buf.readUInt16LE(body + 14);
      fmtOk = format === 1 && channels === 1 && rate === 16000 && bits === 16;
      if (!fmtOk) fail(name, `fake ${name}: ${path} must be 16-bit PCM mono 16 kHz`, 65);
    } else if (id === "data") {
      if (!fmtOk) fail(name, `fake ${name}: ${path} has data before fmt`, 65);
      return buf.subarray(body, Math.min(body + size, buf.length));
    }
    off = body + size + (size % 2);
  }
  return fail(name, `fake ${name}: ${path} has no data chunk`, 65);
}

/** One second of a generated signal, looped. */
function generatedSecond(mode) {
  const out = Buffer.alloc(BYTES_PER_MS * 1000);
  for (let i = 0; i < 16000; i++) {
    let s = 0;
    if (mode === "clip") s = Math.floor(i / 80) % 2 === 0 ? 32767 : -32768; // 100 Hz square at full scale
    else if (mode !== "silence") s = Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / 16000)); // −21 dBFS tone
    out.writeInt16LE(s, i * 2);
  }
  return out;
}

export function run(name) {
  const args = process.argv.slice(2);
  const env = process.env;
  let mode = env.FAKE_ARECORD_MODE ?? "normal";
  if (env.FAKE_ARECORD_LOG) {
    const log = env.FAKE_ARECORD_LOG;
    const previousRuns = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0;
    if (env.FAKE_ARECORD_FAIL_RUNS !== undefined && previousRuns >= Number(env.FAKE_ARECORD_FAIL_RUNS)) mode = "normal";
    appendFileSync(log, `${JSON.stringify({ pid: process.pid, name, args, mode })}\n`);
  }
  const device = checkArgs(name, args);
  if (mode === "missing-device" || (env.FAKE_ARECORD_DEVICE_FILE && !existsSync(env.FAKE_ARECORD_DEVICE_FILE))) {
    fail(name, MISSING_DEVICE_TEXT[name].replace("hw:9,0", device), name === "sox" ? 2 : 1);
  }
  if (env.FAKE_ARECORD_IGNORE_TERM === "1") process.on("SIGTERM", () => {});
  // The reader went away: the real tools die of SIGPIPE/EPIPE too.
  process.stdout.on("error", () => process.exit(0));

  const speed = Number(env.FAKE_ARECORD_SPEED ?? (mode === "garbage" ? 4 : 1));
  const chunkBytes = Math.max(1, Number(env.FAKE_ARECORD_CHUNK_BYTES ?? 640));
  const source = env.FAKE_ARECORD_WAV ? readWavPcm(name, env.FAKE_ARECORD_WAV) : generatedSecond(mode);
  const end = env.FAKE_ARECORD_WAV ? (env.FAKE_ARECORD_END ?? "loop") : "loop";
  const [kind, arg] = mode.split(":");
  const limitMs = kind === "exit-after" || kind === "stall-after" ? Number(arg) : Infinity;

  // A stalled recorder never writes, so it never meets EPIPE: when its reader's process is gone
  // (the daemon killed by a test, this process re-parented) it goes too, instead of outliving
  // the test run.
  const parent = process.ppid;
  const startedMs = performance.now();
  let sent = 0; // bytes written in total
  let pos = 0; // position in source
  let stalled = false;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
    const elapsedMs = performance.now() - startedMs;
    if (elapsedMs >= limitMs) {
      if (kind === "exit-after") fail(name, `${name}: pcm_read:2221: read error: Input/output error`, 1);
      stalled = true;
    }
    if (stalled) return;
    const due = Math.floor(elapsedMs * BYTES_PER_MS * speed);
    while (sent < due) {
      if (pos >= source.length) {
        if (end === "exit") process.exit(0);
        if (end === "stall") {
          stalled = true;
          return;
        }
        pos = 0;
      }
      const n = Math.min(chunkBytes, source.length - pos, due - sent);
      const chunk = kind === "garbage" ? randomBytes(n) : source.subarray(pos, pos + n);
      process.stdout.write(chunk);
      pos += n;
      sent += n;
    }
  }, 10); // the interval keeps the process alive until it is killed or exits above
}
