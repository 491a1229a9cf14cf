/**
 * The durable outbox: every alert event is on disk (fsync'ed) before it is published, and leaves
 * only after the broker acknowledged it (PUBACK). A broker down for an hour, a reboot, or a
 * SIGKILL at any instant loses nothing; in the worst case an event is sent twice (at least once),
 * and consumers dedupe on `alert_id` + `event`.
 *
 * File format (`<dir>/outbox.jsonl`), one operation per line:
 *
 *     <crc32 of json, 8 hex digits> <json>\n
 *     json = {"op":"add","rec":{id,topic,payload,createdAtMs}} | {"op":"ack","id"} | {"op":"drop","id"}
 *
 * Appends go to the end and are fsync'ed before the call resolves. On open the log is replayed;
 * a line without its newline or with a bad checksum (a write torn by a crash, or zero-filled
 * blocks after a power cut) is skipped with a warning, never fatal. The log is then compacted:
 * the pending records are written to `outbox.jsonl.tmp`, fsync'ed, renamed over the log, and the
 * directory is fsync'ed so the rename itself survives a power cut. A crash before the rename
 * leaves the old log intact (the stale tmp is discarded on the next open); after it, the new one.
 *
 * Bounded by `maxEvents` and `maxBytes` (bytes of pending lines): when a new record does not fit,
 * the oldest pending records are dropped, recorded as `drop` lines, logged, and returned, so the
 * newest alert, the one that may still matter, always gets in.
 *
 * A durability layer, never a gate (issue #11): when the disk refuses a write (full, read-only,
 * I/O error) the record is kept in memory anyway, within the same bounds, and still delivered;
 * `failure` says what went wrong so the sink raises `outbox_failing`. Such records are lost by a
 * crash, which is the most that can be promised without a disk. `Outbox.inMemory` is the same
 * object for a directory that cannot be opened at all. The first write that succeeds again clears
 * `failure` (records kept only in memory meanwhile stay memory-only until delivered).
 *
 * One process per directory: the daemon is a single systemd unit.
 */
import { open, mkdir, rename, rm, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../log.js";
import { describeError, OutputError } from "../../errors.js";
import { OUTBOX_MIN_BYTES } from "../../constants.js";

export interface OutboxRecord {
  /** Unique per event; acks refer to it. */
  id: string;
  /** Topic suffix under the device root (e.g. `alert`), so a renamed base topic still applies. */
  topic: string;
  /** The payload exactly as it will be published, built once so ids and times never change. */
  payload: string;
  createdAtMs: number;
}

export interface OutboxLimits {
  maxEvents: number;
  maxBytes: number;
}

export interface AppendResult {
  /** Oldest records dropped to make room, in the order they were queued. */
  dropped: OutboxRecord[];
  /** False when the record is kept only in memory (the disk write failed; see `failure`). */
  durable: boolean;
}

export const OUTBOX_FILE = "outbox.jsonl";
const TMP_SUFFIX = ".tmp";
/** Compact once this many dead lines (acks, drops, acked adds) accumulated and outnumber live ones. */
const COMPACT_DEAD_LINES = 64;

type LogOp = { op: "add"; rec: OutboxRecord } | { op: "ack"; id: string } | { op: "drop"; id: string };

// CRC-32 (IEEE 802.3, the one zlib and gzip use). zlib.crc32 only exists from Node 20.15 / 22.2.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(text: string): number {
  const bytes = Buffer.from(text, "utf8");
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Encode one operation as a checksummed line, newline included. */
export function encodeLine(op: LogOp): string {
  const json = JSON.stringify(op);
  return `${crc32(json).toString(16).padStart(8, "0")} ${json}\n`;
}

/** Decode one line (without its newline); null when torn, corrupt or not an operation. */
export function decodeLine(line: string): LogOp | null {
  const match = /^([0-9a-f]{8}) (.*)$/s.exec(line);
  if (!match) return null;
  const [, sum, json] = match as unknown as [string, string, string];
  if (parseInt(sum, 16) !== crc32(json)) return null;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  return isLogOp(value) ? value : null;
}

function isLogOp(value: unknown): value is LogOp {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if ((v.op === "ack" || v.op === "drop") && typeof v.id === "string") return true;
  if (v.op !== "add" || typeof v.rec !== "object" || v.rec === null) return false;
  const r = v.rec as Record<string, unknown>;
  return (
    typeof r.id === "string" &&
    typeof r.topic === "string" &&
    typeof r.payload === "string" &&
    typeof r.createdAtMs === "number"
  );
}

function recordBytes(rec: OutboxRecord): number {
  return Buffer.byteLength(encodeLine({ op: "add", rec }));
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class Outbox {
  /** Serialises every file operation, so appends, acks and compaction never interleave. */
  private chain: Promise<unknown> = Promise.resolve();
  private deadLines = 0;
  private closed = false;
  /** Why the disk is not being written (null while it is); see the header. */
  private failureMessage: string | null = null;

  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly limits: OutboxLimits,
    private readonly log: Logger,
    private readonly records: OutboxRecord[],
    private handle: FileHandle | null,
    /** No file at all: the directory could not be opened. */
    private readonly memoryOnly = false,
  ) {}

  /**
   * An outbox that keeps its records only in memory, within the same limits: for a state
   * directory that cannot be opened. `cause` becomes `failure`.
   */
  static inMemory(dir: string, limits: OutboxLimits, log: Logger, cause: unknown): Outbox {
    const outbox = new Outbox(join(dir, OUTBOX_FILE), dir, limits, log, [], null, true);
    outbox.failureMessage = `the alert outbox cannot be opened (${describeError(cause)}); alerts are kept in memory only and lost if the daemon stops before the broker has them; make ${dir} writable by the daemon and restart`;
    return outbox;
  }

  /** Why alerts are not stored on disk right now, or null when they are. */
  get failure(): string | null {
    return this.failureMessage;
  }

  /** Open (creating if needed) the outbox in `dir`, replay it, and compact it. */
  static async open(dir: string, limits: OutboxLimits, log: Logger): Promise<Outbox> {
    if (!Number.isInteger(limits.maxEvents) || limits.maxEvents < 1) {
      throw new OutputError("OUTBOX_LIMITS", `outbox max_events must be a whole number >= 1 (got ${limits.maxEvents})`);
    }
    if (!Number.isInteger(limits.maxBytes) || limits.maxBytes < OUTBOX_MIN_BYTES) {
      throw new OutputError("OUTBOX_LIMITS", `outbox max_bytes must be a whole number >= ${OUTBOX_MIN_BYTES} (got ${limits.maxBytes})`);
    }
    const path = join(dir, OUTBOX_FILE);
    try {
      await mkdir(dir, { recursive: true });
      await rm(path + TMP_SUFFIX, { force: true });
      let text = "";
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      const records = replay(text, path, log);
      const outbox = new Outbox(path, dir, limits, log, records, null);
      // Limits may have shrunk since the file was written.
      const dropped = records.splice(0, outbox.countToDrop(0, 0));
      if (dropped.length > 0) outbox.logDropped(dropped, "limits shrank");
      await outbox.rewrite();
      if (records.length > 0) log.info({ pending: records.length, path }, "outbox has pending events from before");
      return outbox;
    } catch (err) {
      if (err instanceof OutputError) throw err;
      throw new OutputError(
        "OUTBOX_OPEN",
        `cannot open the alert outbox at ${path}; check that the state directory exists and is writable by the daemon`,
        { cause: err },
      );
    }
  }

  /** Pending records, oldest first (a copy). */
  pending(): OutboxRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  get size(): number {
    return this.records.length;
  }

  /**
   * Persist `record` (fsync'ed when this resolves). A record whose id is already pending is
   * ignored. When full, the oldest records are dropped and returned.
   */
  append(record: OutboxRecord): Promise<AppendResult> {
    return this.serial(async () => {
      this.assertOpen();
      if (this.records.some((r) => r.id === record.id)) {
        this.log.warn({ id: record.id }, "outbox: event already pending, not queued twice");
        return { dropped: [], durable: true };
      }
      const rec = { ...record };
      const bytes = recordBytes(rec);
      if (bytes > this.limits.maxBytes) {
        this.log.warn({ id: rec.id, bytes, maxBytes: this.limits.maxBytes }, "outbox: event larger than max_bytes, kept alone");
      }
      const dropping = this.records.slice(0, this.countToDrop(1, bytes));
      let text = dropping.map((r) => encodeLine({ op: "drop", id: r.id })).join("");
      text += encodeLine({ op: "add", rec });
      // A failed write still queues the record (in memory): the outbox must never keep an
      // alert from the broker. The file then lacks it, which costs only its durability.
      const durable = await this.tryWrite(text);
      const dropped = this.records.splice(0, dropping.length);
      this.records.push(rec);
      this.deadLines += dropped.length * 2;
      if (dropped.length > 0) this.logDropped(dropped, "outbox full");
      await this.maybeCompact();
      return { dropped, durable };
    });
  }

  /**
   * Remove a record after the broker acknowledged it; false when it was not pending or the
   * outbox is already closed (then it is simply sent again after the next open).
   */
  ack(id: string): Promise<boolean> {
    return this.serial(async () => {
      if (this.closed) return false;
      const index = this.records.findIndex((r) => r.id === id);
      if (index < 0) return false;
      // fsync'ed too: a lost ack only means a duplicate after a crash, but duplicates wake people.
      // An ack that cannot be written still removes the record here: the broker has it.
      await this.tryWrite(encodeLine({ op: "ack", id }));
      this.records.splice(index, 1);
      this.deadLines += 2;
      await this.maybeCompact();
      return true;
    });
  }

  /** Compact and close the file; idempotent. Pending records stay on disk for the next open. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        if (this.deadLines > 0 && !this.memoryOnly) await this.rewrite();
      } catch (err) {
        this.log.warn({ err, path: this.path }, "outbox: compaction at close failed; the log is replayed as it is at the next start");
      } finally {
        await this.handle?.close();
        this.handle = null;
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private assertOpen(): void {
    if (this.closed) throw new OutputError("OUTBOX_CLOSED", "the outbox is closed; this is a bug in the MQTT sink's lifecycle");
  }

  /** How many of the oldest records must go so `extraEvents` more events of `extraBytes` fit. */
  private countToDrop(extraEvents: number, extraBytes: number): number {
    let bytes = this.records.reduce((sum, r) => sum + recordBytes(r), 0);
    let count = 0;
    while (
      count < this.records.length &&
      (this.records.length - count + extraEvents > this.limits.maxEvents || bytes + extraBytes > this.limits.maxBytes)
    ) {
      bytes -= recordBytes(this.records[count] as OutboxRecord);
      count++;
    }
    return count;
  }

  private logDropped(dropped: OutboxRecord[], reason: string): void {
    this.log.error(
      { reason, dropped: dropped.map((r) => ({ id: r.id, createdAtMs: r.createdAtMs })), limits: this.limits },
      `outbox: dropped ${dropped.length} undelivered event(s), oldest first; is the broker reachable? raise outbox limits to keep more`,
    );
  }

  /** writeDurably, but a failure is recorded in `failure` and logged instead of thrown. True when written. */
  private async tryWrite(text: string): Promise<boolean> {
    if (this.memoryOnly) return false;
    try {
      await this.writeDurably(text);
    } catch (err) {
      if (this.failureMessage === null) this.log.error({ err }, "outbox: cannot write; keeping alerts in memory and sending them anyway");
      const cause = err instanceof Error && err.cause !== undefined ? ` (${describeError(err.cause)})` : "";
      this.failureMessage = `${describeError(err)}${cause}; alerts are sent without being stored first and are lost if the daemon stops before the broker has them`;
      return false;
    }
    if (this.failureMessage !== null) this.log.info({ path: this.path }, "outbox: writing again");
    this.failureMessage = null;
    return true;
  }

  private async writeDurably(text: string): Promise<void> {
    try {
      if (this.handle === null) this.handle = await open(this.path, "a");
      await this.handle.write(text);
      await this.handle.sync();
    } catch (err) {
      // Reopen on the next write rather than reuse a handle in an unknown state.
      await this.handle?.close().catch(() => undefined);
      this.handle = null;
      throw new OutputError(
        "OUTBOX_WRITE",
        `cannot write the alert outbox ${this.path}; check free space and permissions of the state directory`,
        { cause: err },
      );
    }
  }

  private async maybeCompact(): Promise<void> {
    if (this.memoryOnly || !(this.deadLines >= COMPACT_DEAD_LINES && this.deadLines > this.records.length)) return;
    try {
      await this.rewrite();
    } catch (err) {
      // The old log is intact (the rename is the commit point); appends go on to it.
      this.log.warn({ err, path: this.path }, "outbox: compaction failed; the log keeps growing until it succeeds");
      await rm(this.path + TMP_SUFFIX, { force: true }).catch(() => undefined);
      this.deadLines = 0;
    }
  }

  /** Write the pending records to a tmp file, fsync, rename over the log, fsync the directory. */
  private async rewrite(): Promise<void> {
    const tmp = this.path + TMP_SUFFIX;
    const text = this.records.map((rec) => encodeLine({ op: "add", rec })).join("");
    await this.handle?.close();
    this.handle = null;
    const out = await open(tmp, "w");
    try {
      await out.write(text);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
    await fsyncDir(this.dir);
    this.deadLines = 0;
  }
}

/** Rebuild the pending list from the log text; skips torn and corrupt lines with a warning. */
function replay(text: string, path: string, log: Logger): OutboxRecord[] {
  const lines = text.split("\n");
  const tail = lines.pop() ?? "";
  if (tail !== "") {
    log.warn({ path, bytes: Buffer.byteLength(tail) }, "outbox: skipped a torn last line (the process stopped mid-write)");
  }
  const records = new Map<string, OutboxRecord>();
  lines.forEach((raw, i) => {
    // Zero-filled blocks after a power cut have no newline of their own, so the line that was
    // appended after them starts behind the NUL run: judge only what follows the last NUL.
    const nul = raw.lastIndexOf("\0");
    const line = nul < 0 ? raw : raw.slice(nul + 1);
    if (line === "") {
      if (nul >= 0) log.warn({ path, line: i + 1 }, i === lines.length - 1 ? "outbox: skipped a torn last line (zeros)" : "outbox: skipped a zero-filled block");
      return;
    }
    const op = decodeLine(line);
    if (op === null) {
      const last = i === lines.length - 1;
      log.warn({ path, line: i + 1 }, last ? "outbox: skipped a torn last line" : "outbox: skipped a corrupt line");
      return;
    }
    if (op.op === "add") {
      if (!records.has(op.rec.id)) records.set(op.rec.id, op.rec);
    } else {
      records.delete(op.id);
    }
  });
  return [...records.values()];
}
