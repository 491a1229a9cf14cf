/**
 * The client of the daemon's status socket (status-socket.ts), for `monitor`, `doctor`,
 * `selftest` and `calibrate --from-daemon`: messages as they arrive, commands answered by id,
 * and the remembered window scores read page by page (status-protocol.ts).
 */
import { createConnection } from "node:net";
import { OutputError } from "../errors.js";
import { lineSplitter, SCORES_PAGE_MAX, type ResultMessage, type ScoresMessage, type StatusSocketMessage } from "./protocol.js";

export interface StatusClient {
  /** Every message as it arrives. */
  onMessage(listener: (m: StatusSocketMessage) => void): () => void;
  onClose(listener: (err: Error | null) => void): () => void;
  /** Sends a command and resolves with its result. */
  command(body: { command: string; id?: string; minutes?: number }, timeoutMs?: number): Promise<ResultMessage>;
  /** Every remembered window score at or after `sinceMs`, read page by page. */
  scores(sinceMs: number, timeoutMs?: number): Promise<{ hopMs: number; tMs: number[]; score: number[]; dbfs: number[] }>;
  close(): void;
}

/**
 * Connects to a status socket; rejects (ENOENT, ECONNREFUSED, EACCES …) when no daemon answers
 * within `timeoutMs`.
 */
export function connectStatusSocket(path: string, timeoutMs = 2_000): Promise<StatusClient> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const listeners = new Set<(m: StatusSocketMessage) => void>();
    const closeListeners = new Set<(err: Error | null) => void>();
    const pending = new Map<string, (r: ResultMessage | ScoresMessage) => void>();
    let lastError: Error | null = null;
    let nextId = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OutputError("STATUS_SOCKET_TIMEOUT", `no answer on the status socket ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    const split = lineSplitter((line) => {
      let m: StatusSocketMessage;
      try {
        m = JSON.parse(line) as StatusSocketMessage;
      } catch {
        return;
      }
      if ((m.type === "result" || m.type === "scores") && m.id !== null && pending.has(m.id)) {
        pending.get(m.id)!(m);
        pending.delete(m.id);
      }
      for (const l of listeners) l(m);
    });
    socket.on("data", (text: string) => void split(text));
    socket.on("error", (err) => {
      lastError = err;
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      for (const l of closeListeners) l(lastError);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      // A command gets its `result`, a request its `scores` (or a `result` refusing it), by id.
      const ask = <T>(body: { id?: string } & Record<string, unknown>, what: string, timeoutMs: number): Promise<T> => {
        const id = body.id ?? `c${process.pid}-${nextId++}`;
        return new Promise<T>((res, rej) => {
          const t = setTimeout(() => {
            pending.delete(id);
            rej(new OutputError("STATUS_SOCKET_TIMEOUT", `the daemon did not answer the ${what} within ${timeoutMs} ms`));
          }, timeoutMs);
          pending.set(id, (r) => {
            clearTimeout(t);
            res(r as T);
          });
          socket.write(JSON.stringify({ ...body, id }) + "\n");
        });
      };
      resolve({
        onMessage(l) {
          listeners.add(l);
          return () => listeners.delete(l);
        },
        onClose(l) {
          closeListeners.add(l);
          return () => closeListeners.delete(l);
        },
        command(body, cmdTimeoutMs = 5_000) {
          return ask<ResultMessage>(body, `${body.command} command`, cmdTimeoutMs);
        },
        async scores(sinceMs, pageTimeoutMs = 10_000) {
          const out = { hopMs: 0, tMs: [] as number[], score: [] as number[], dbfs: [] as number[] };
          let afterSeq = -1;
          for (;;) {
            const m = await ask<ResultMessage | ScoresMessage>({ request: "scores", after_seq: afterSeq, since_ms: sinceMs, max: SCORES_PAGE_MAX }, "scores request", pageTimeoutMs);
            if (m.type === "result") throw new OutputError("STATUS_SOCKET_SCORES", `the daemon refused the scores request: ${m.error ?? "no reason given"}; update and restart it`);
            out.hopMs = m.hop_ms;
            out.tMs.push(...m.t_ms);
            out.score.push(...m.score);
            out.dbfs.push(...m.dbfs);
            if (!m.more || m.last_seq <= afterSeq) return out;
            afterSeq = m.last_seq;
          }
        },
        close() {
          socket.destroy();
        },
      });
    });
  });
}
