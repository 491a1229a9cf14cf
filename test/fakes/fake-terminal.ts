/**
 * A terminal that two streams (stdout and stderr) write into, as a real one does, and that keeps
 * what a person would see: `\r` returns to column 0, `ESC[K` erases to the end of the line, `\n`
 * starts a new line, text overwrites from the cursor. Enough to tell whether a log line was
 * written into a progress bar. Any other escape sequence throws, so a test notices one.
 */
export class FakeTerminal {
  readonly writes: { stream: "stdout" | "stderr"; chunk: string }[] = [];
  private rows: string[] = [""];
  private col = 0;

  constructor(readonly columns = 100) {}

  /** A stream onto this terminal; `isTTY` as given (false models a pipe into the same log). */
  stream(name: "stdout" | "stderr", isTTY = true): { write(chunk: string): boolean; isTTY: boolean; columns: number } {
    return {
      isTTY,
      columns: this.columns,
      write: (chunk: string) => {
        this.writes.push({ stream: name, chunk });
        this.feed(chunk);
        return true;
      },
    };
  }

  /** The screen's lines; the last one is where the cursor is (empty after a newline). */
  screen(): string[] {
    return [...this.rows];
  }

  /** Everything written, in order, as one string. */
  transcript(): string {
    return this.writes.map((w) => w.chunk).join("");
  }

  private feed(chunk: string): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      const row = this.rows.length - 1;
      if (c === "\r") this.col = 0;
      else if (c === "\n") {
        this.rows.push("");
        this.col = 0;
      } else if (c === "\x1b") {
        if (chunk.slice(i, i + 3) !== "\x1b[K") throw new Error(`FakeTerminal: unsupported escape ${JSON.stringify(chunk.slice(i, i + 6))}`);
        this.rows[row] = this.rows[row]!.slice(0, this.col);
        i += 2;
      } else {
        const line = this.rows[row]!.padEnd(this.col);
        this.rows[row] = line.slice(0, this.col) + c + line.slice(this.col + 1);
        this.col++;
      }
    }
  }
}
