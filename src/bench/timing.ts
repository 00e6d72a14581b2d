// timing for benchmarks: warm up, then repeat until both a minimum count and a
// minimum time are reached, and report the median. device work is
// asynchronous, so each sample synchronises before reading the clock.
import { native, DeviceName } from '../native';

export interface Timing {
  medianMs: number;
  minMs: number;
  samples: number;
}

export interface TimingOptions {
  warmup?: number; // runs before timing
  minSamples?: number;
  minSeconds?: number;
  maxSamples?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function timeIt(device: DeviceName, fn: () => void, opts: TimingOptions = {}): Timing {
  const { warmup = 2, minSamples = 5, minSeconds = 0.5, maxSamples = 200 } = opts;
  const addon = native();
  for (let i = 0; i < warmup; i++) fn();
  addon.synchronize(device);
  // short ops run several times a sample so the synchronisation and launch
  // latency (tens of microseconds) do not swamp them: aim for >= 1 ms a sample
  let inner = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    addon.synchronize(device);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= 1 || inner >= 1024) break;
    inner *= 4;
  }
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  while (samples.length < maxSamples) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    addon.synchronize(device);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6 / inner);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (samples.length >= minSamples && elapsed >= minSeconds) break;
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), samples: samples.length };
}
