// Terminal progress: one redrawn line per epoch on a TTY, plain lines otherwise.

export class ProgressLine {
  private lastDraw = 0;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  get interactive(): boolean {
    return Boolean(this.stream.isTTY);
  }

  /** Redraws the current line (at most ~10 times a second). */
  update(text: string, force = false): void {
    if (!this.interactive) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = this.stream.columns ?? 100;
    this.stream.write(`\r${text.slice(0, width - 1).padEnd(Math.min(width - 1, text.length))}\x1b[K`);
  }

  /** Ends the redrawn line with a permanent one. */
  finish(text: string): void {
    if (this.interactive) this.stream.write(`\r${text}\x1b[K\n`);
    else this.stream.write(`${text}\n`);
  }
}

export function bar(done: number, total: number, width = 24): string {
  const filled = Math.round((done / Math.max(total, 1)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
