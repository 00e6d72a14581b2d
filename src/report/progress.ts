// progress for long passes over the data set. on a terminal one line is
// redrawn in place (at most ~10 times a second); elsewhere (a log, ci) each
// stage prints one line when it ends, so logs stay short.

export interface ProgressSink {
  start(stage: string, total: number): void;
  update(done: number): void;
  end(note?: string): void;
}

export const silentProgress: ProgressSink = { start() {}, update() {}, end() {} };

export class TerminalProgress implements ProgressSink {
  private stage = '';
  private total = 0;
  private began = 0;
  private lastDraw = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly tty = !!stream.isTTY) {}

  start(stage: string, total: number): void {
    this.stage = stage;
    this.total = total;
    this.began = Date.now();
    this.lastDraw = 0;
    this.update(0);
  }

  update(done: number): void {
    if (!this.tty) return;
    // a stage of unknown length shows its name only
    if (this.total <= 0) { this.stream.write(`\r\x1b[2K${this.stage} ...`); return; }
    const now = Date.now();
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    this.stream.write(`\r\x1b[2K${this.stage} [${bar}] ${done}/${this.total} ${(frac * 100).toFixed(0)}%`);
  }

  // wipes a half-drawn line, so an error message that follows starts clean
  clear(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
  }

  end(note?: string): void {
    const seconds = ((Date.now() - this.began) / 1000).toFixed(1);
    const line = `${this.stage}: done in ${seconds} s${note ? ` (${note})` : ''}`;
    this.stream.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }
}
