import { describe, expect, it } from 'vitest';
import { barChart, formatTick, histogram, lineChart, niceAxis, niceStep } from '../../src/report/svg';

const attr = (tag: string, name: string) => Number(new RegExp(`\\b${name}="([-0-9.]+)"`).exec(tag)![1]);

describe('axes', () => {
  it('picks 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(1, 4)).toBe(0.25);
    expect(niceStep(5000, 5)).toBe(1000);
    expect(niceStep(0.07, 5)).toBeCloseTo(0.02, 12);
  });

  it('widens the range to whole steps and lists the ticks', () => {
    const a = niceAxis(0.43, 0.71, 5);
    expect(a.lo).toBeLessThanOrEqual(0.43);
    expect(a.hi).toBeGreaterThanOrEqual(0.71);
    expect(a.ticks[0]).toBeCloseTo(a.lo, 12);
    expect(a.ticks[a.ticks.length - 1]).toBeCloseTo(a.hi, 12);
    for (let i = 1; i < a.ticks.length; i++) expect(a.ticks[i] - a.ticks[i - 1]).toBeCloseTo(a.step, 12);
  });

  it('gives a flat range some room and whole-number steps when asked', () => {
    const a = niceAxis(1, 1, 6, true);
    expect(a.lo).toBeLessThan(1);
    expect(a.hi).toBeGreaterThan(1);
    expect(a.ticks.every(Number.isInteger)).toBe(true);
  });

  it('formats ticks with as many decimals as the step needs', () => {
    expect(formatTick(5, 2.5)).toBe('5.0');
    expect(formatTick(0.30000000000000004, 0.1)).toBe('0.3');
    expect(formatTick(0.55, 0.05, true)).toBe('55%');
    expect(formatTick(0.004, 0.001, true)).toBe('0.4%');
    expect(formatTick(1000, 500)).toBe('1000');
  });
});

describe('bar chart', () => {
  const svg = barChart({
    title: 'Images <per> class',
    categories: ['a', 'b', 'c'],
    series: [{ name: 'train', values: [10, 20, 40] }, { name: 'test', values: [5, null, 10] }],
    width: 500,
    height: 300,
  });

  it('is one svg of the asked size, its title escaped', () => {
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('width="500" height="300" viewBox="0 0 500 300"');
    expect(svg).toContain('Images &lt;per&gt; class');
    expect(svg).not.toContain('<per>');
  });

  it('draws one bar per finite value, heights in proportion to the values', () => {
    const bars = [...svg.matchAll(/<rect [^>]*>/g)].map((m) => m[0]).filter((t) => !t.includes('width="12" height="10"'));
    expect(bars).toHaveLength(5);
    const heights = bars.map((b) => attr(b, 'height'));
    // train bars come first in each group: a, then test a, then train b, train c, test c
    const [trainA, testA, trainB, trainC, testC] = heights;
    expect(trainB / trainA).toBeCloseTo(2, 1);
    expect(trainC / trainA).toBeCloseTo(4, 1);
    expect(testA / trainA).toBeCloseTo(0.5, 1);
    expect(testC / trainA).toBeCloseTo(1, 1);
    // every bar stands on the same baseline
    const bottoms = bars.map((b) => attr(b, 'y') + attr(b, 'height'));
    for (const y of bottoms) expect(y).toBeCloseTo(bottoms[0], 1);
  });

  it('has a legend for two series and tooltips with the values', () => {
    expect(svg).toContain('>train</text>');
    expect(svg).toContain('>test</text>');
    expect(svg).toContain('<title>train c: 40</title>');
  });
});

describe('line chart', () => {
  it('breaks the line where a value is missing and marks every point', () => {
    const svg = lineChart({ title: 'Loss', x: [1, 2, 3, 4, 5], series: [{ name: 'train', values: [2, 1.5, null, 1.1, 1.0] }], integerX: true });
    const path = /<path d="([^"]+)"/.exec(svg)![1];
    expect(path.match(/M/g)).toHaveLength(2);
    expect(path.match(/L/g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(4);
  });

  it('draws lower values lower on the chart', () => {
    const svg = lineChart({ title: 'Loss', x: [1, 2], series: [{ name: 'train', values: [2, 1] }] });
    const ys = [...svg.matchAll(/<circle cx="[^"]+" cy="([^"]+)"/g)].map((m) => Number(m[1]));
    expect(ys[1]).toBeGreaterThan(ys[0]);
  });

  it('draws a single epoch as a point, not an error', () => {
    const svg = lineChart({ title: 'Accuracy', x: [1], series: [{ name: 'test', values: [0.5] }], percent: true, integerX: true });
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(svg).not.toContain('NaN');
  });

  it('handles a series with no finite values', () => {
    const svg = lineChart({ title: 'Loss', x: [1, 2], series: [{ name: 'train', values: [null, NaN] }] });
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('<path');
  });
});

describe('histogram', () => {
  it('draws one closed step outline per series, as high as each bin', () => {
    const values = Array.from({ length: 256 }, (_, i) => (i === 100 ? 0.5 : i >= 200 ? 0.25 : 0.1));
    const svg = histogram({ title: 'R', binStart: 0, binWidth: 1, series: [{ name: 'train', values }, { name: 'test', values: values.map((v) => v / 2) }], percent: true, width: 400 });
    const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]);
    expect(paths).toHaveLength(2);
    const points = (d: string) => [...d.matchAll(/[ML]([-0-9.]+) ([-0-9.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    for (const d of paths) expect(d.endsWith('Z')).toBe(true);
    const train = points(paths[0]), test = points(paths[1]);
    const baseline = train[0][1];
    const height = (pts: number[][], x: number) => {
      // the outline's height over x: the last horizontal run that covers it
      let h = 0;
      for (let i = 1; i < pts.length; i++) if (pts[i - 1][1] === pts[i][1] && pts[i - 1][0] <= x && x <= pts[i][0]) h = baseline - pts[i][1];
      return h;
    };
    const plotLeft = train[0][0], plotRight = train[train.length - 1][0];
    const xOf = (bin: number) => plotLeft + ((bin + 0.5) / 256) * (plotRight - plotLeft);
    expect(height(train, xOf(100)) / height(train, xOf(50))).toBeCloseTo(5, 1);
    expect(height(train, xOf(220)) / height(train, xOf(50))).toBeCloseTo(2.5, 1);
    expect(height(test, xOf(100)) / height(train, xOf(100))).toBeCloseTo(0.5, 1);
    // a point pair only where the height changes: up to 0.1, up to 0.5, down to 0.1, up to 0.25, down to 0
    expect(train.length).toBeLessThan(16);
    expect(svg).not.toContain('NaN');
    expect(svg).toContain('>20%</text>');
  });
});
