import { describe, expect, it, vi } from 'vitest';
import { Progress, type StepProgress } from '../../src/train/progress';
import type { EpochMetrics } from '../../src/train/metrics';

function sink(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns, write: (s: string) => chunks.push(s) } };
}

const step = (over: Partial<StepProgress> = {}): StepProgress => ({
  epoch: 1, epochs: 3, step: 20, steps: 100, loss: 1.5, accuracy: 0.25, imagesPerSecond: 1234.4, elapsed: 2, ...over,
});

const row: EpochMetrics = {
  epoch: 1, train_loss: 1.2, train_accuracy: 0.5, test_loss: null, test_accuracy: 0.4, seconds: 3.21,
  images_per_second: 997, eval_seconds: 0.5, nan_at: { epoch: 1, step: 7 },
};

describe('progress', () => {
  it('redraws one line in place on a terminal, with a bar, loss, accuracy and images/s', () => {
    const { chunks, stream } = sink(true, 200);
    const p = new Progress(stream);
    p.step(step());
    p.step(step({ step: 40 }));
    expect(chunks.length).toBe(2);
    for (const c of chunks) {
      expect(c.startsWith('\r')).toBe(true);
      expect(c.endsWith('\x1b[K')).toBe(true);
      expect(c).not.toContain('\n');
    }
    expect(chunks[0]).toMatch(/epoch 1\/3 .* 20\/100 loss 1\.5000 acc 25\.00% 1234 img\/s 2s<8s/);
    // the epoch's line ends the redrawn one and stays
    p.epoch(row, 3);
    expect(chunks[2]).toBe('\n');
    expect(chunks[3]).toBe('epoch 1/3: train loss 1.2000 acc 50.00%, test loss nan acc 40.00%, 3.2s (997 img/s) (loss not finite from step 7)\n');
  });

  it('fits the line into the terminal width', () => {
    const { chunks, stream } = sink(true, 40);
    new Progress(stream).step(step());
    expect(chunks[0].replace('\r', '').replace('\x1b[K', '').length).toBeLessThanOrEqual(39);
  });

  it('writes plain lines, at most one per 10 seconds, when not on a terminal', () => {
    const { chunks, stream } = sink(false);
    const p = new Progress(stream);
    p.step(step({ elapsed: 2 }));
    p.step(step({ elapsed: 10.5 }));
    p.step(step({ elapsed: 15 }));
    p.step(step({ elapsed: 21 }));
    expect(chunks).toHaveLength(2);
    for (const c of chunks) {
      expect(c).toMatch(/^epoch 1\/3 step 20\/100 loss 1\.5000 acc 25\.00% 1234 img\/s .*\n$/);
      expect(c).not.toContain('\r');
    }
    p.epoch(row, 3);
    expect(chunks[2]).toMatch(/^epoch 1\/3: train loss/);
  });

  it('paces plain lines by the run\'s own elapsed time, not the wall clock, and starts each epoch afresh', () => {
    vi.useFakeTimers();
    try {
      const { chunks, stream } = sink(false);
      const p = new Progress(stream);
      p.step(step({ step: 20, elapsed: 9.9 }));
      // an hour of wall clock passes; the run says 9.95 s: still no line
      vi.setSystemTime(Date.now() + 3_600_000);
      p.step(step({ step: 40, elapsed: 9.95 }));
      expect(chunks).toEqual([]);
      p.step(step({ step: 60, elapsed: 10 }));
      expect(chunks).toEqual(['epoch 1/3 step 60/100 loss 1.5000 acc 25.00% 1234 img/s 10s<7s\n']);
      p.epoch(row, 3);
      // the next epoch's clock starts at 0 again: its first plain line comes after 10 of its seconds
      p.step(step({ epoch: 2, step: 20, elapsed: 5 }));
      expect(chunks).toHaveLength(2);
      p.step(step({ epoch: 2, step: 80, elapsed: 75 }));
      expect(chunks[2]).toBe('epoch 2/3 step 80/100 loss 1.5000 acc 25.00% 1234 img/s 1m15s<19s\n');
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes plain lines when told the stream is no terminal, whatever the stream says', () => {
    const { chunks, stream } = sink(true, 200);
    const p = new Progress(stream, { tty: false });
    p.step(step({ elapsed: 3700, step: 50 }));
    expect(chunks).toEqual(['epoch 1/3 step 50/100 loss 1.5000 acc 25.00% 1234 img/s 1h01m<1h01m\n']);
  });

  it('ends the redrawn line before a message and when done, once', () => {
    const { chunks, stream } = sink(true, 200);
    const p = new Progress(stream);
    p.step(step({ step: 0, loss: NaN }));
    // no step done yet: no time left to tell; a loss that is not finite shows as nan
    expect(chunks[0]).toMatch(/ 0\/100 loss nan acc 25\.00% 1234 img\/s 2s<\?\x1b\[K$/);
    p.message('resuming');
    expect(chunks.slice(1)).toEqual(['\n', 'resuming\n']);
    p.step(step());
    p.done();
    p.done();
    expect(chunks.slice(3)).toHaveLength(2);
    expect(chunks[4]).toBe('\n');
  });

  it('is silent without a stream, and does not fall back to stdout or stderr', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const p = new Progress(null);
      p.step(step({ elapsed: 100 }));
      p.message('x');
      p.epoch(row, 3);
      p.done();
      expect(out).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
