// transfer progress on stderr: one line redrawn in place on a terminal, a
// line every few seconds otherwise (logs), and a summary at the end.
export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

export class Progress {
  private doneObjects = 0;
  private doneBytes = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly start = Date.now();

  constructor(
    private readonly label: string,
    private readonly totalObjects: number,
    private readonly totalBytes: number | null,
    private readonly sink: ProgressSink | null = process.stderr,
  ) {}

  bytes(n: number): void {
    this.doneBytes += n;
    this.maybeDraw();
  }

  objectDone(): void {
    this.doneObjects++;
    this.maybeDraw();
  }

  private line(): string {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const bytes = this.totalBytes ? `${mb(this.doneBytes)}/${mb(this.totalBytes)} MB` : `${mb(this.doneBytes)} MB`;
    return `${this.label}: ${this.doneObjects}/${this.totalObjects} objects, ${bytes}`;
  }

  private maybeDraw(): void {
    if (!this.sink) return;
    const now = Date.now();
    const tty = !!this.sink.isTTY;
    if (now - this.lastDraw < (tty ? 100 : 5000) && this.doneObjects < this.totalObjects) return;
    this.lastDraw = now;
    if (tty) {
      this.sink.write(`\r${this.line()}\x1b[K`);
      this.drawn = true;
    } else if (now - this.start >= 5000) {
      this.sink.write(this.line() + '\n');
    }
  }

  /** ends the redrawn line; the caller prints its own summary */
  finish(): void {
    if (this.sink && this.drawn) this.sink.write('\r\x1b[K');
    this.drawn = false;
  }
}
