// what a person sees while a run trains. on a terminal: one line redrawn in
// place (a bar, the running loss and accuracy, images/s, time left). not on a
// terminal (a log file, CI): plain lines, one every ~10 seconds and one per
// epoch, so logs stay short. everything goes to stderr: stdout is for --json.
import type { EpochMetrics } from './metrics';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** running means over the epoch so far */
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  /** seconds since the epoch began */
  elapsed: number;
}

const PLAIN_EVERY_SECONDS = 10;
const BAR_WIDTH = 24;

function fmtLoss(x: number | null): string {
  return x === null || !Number.isFinite(x) ? 'nan' : x.toFixed(4);
}

function fmtPercent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly tty: boolean;
  private lineOpen = false;
  private lastPlain = 0;

  /** stream null: silent */
  constructor(private readonly stream: ProgressStream | null, opts: { tty?: boolean } = {}) {
    this.tty = opts.tty ?? Boolean(stream?.isTTY);
  }

  /** a line of its own (notices), not overwritten by the bar */
  message(text: string): void {
    if (!this.stream) return;
    this.closeLine();
    this.stream.write(text + '\n');
  }

  step(p: StepProgress): void {
    if (!this.stream) return;
    const eta = p.step > 0 ? (p.elapsed / p.step) * (p.steps - p.step) : NaN;
    const stats =
      `loss ${fmtLoss(p.loss)} acc ${fmtPercent(p.accuracy)} ` +
      `${Math.round(p.imagesPerSecond)} img/s ${fmtDuration(p.elapsed)}<${fmtDuration(eta)}`;
    if (this.tty) {
      const filled = p.steps > 0 ? Math.round((BAR_WIDTH * p.step) / p.steps) : 0;
      const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
      let line = `epoch ${p.epoch}/${p.epochs} ${bar} ${p.step}/${p.steps} ${stats}`;
      const cols = this.stream.columns;
      if (cols && line.length > cols - 1) line = line.slice(0, cols - 1);
      // \r back to the start, \x1b[K clears what the previous line left
      this.stream.write(`\r${line}\x1b[K`);
      this.lineOpen = true;
      return;
    }
    if (p.elapsed - this.lastPlain >= PLAIN_EVERY_SECONDS) {
      this.lastPlain = p.elapsed;
      this.stream.write(`epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} ${stats}\n`);
    }
  }

  /** the epoch's line, kept on screen */
  epoch(row: EpochMetrics, epochs: number): void {
    if (!this.stream) return;
    this.closeLine();
    this.lastPlain = 0;
    const nan = row.nan_at ? ` (loss not finite from step ${row.nan_at.step})` : '';
    this.stream.write(
      `epoch ${row.epoch}/${epochs}: train loss ${fmtLoss(row.train_loss)} acc ${fmtPercent(row.train_accuracy)}, ` +
        `test loss ${fmtLoss(row.test_loss)} acc ${fmtPercent(row.test_accuracy)}, ` +
        `${row.seconds.toFixed(1)}s (${Math.round(row.images_per_second)} img/s)${nan}\n`,
    );
  }

  private closeLine(): void {
    if (this.lineOpen && this.stream) {
      this.stream.write('\n');
      this.lineOpen = false;
    }
  }

  done(): void {
    this.closeLine();
  }
}
