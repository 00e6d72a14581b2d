import { escapeHtml } from './html';

// charts as plain svg strings: no script, no fonts to fetch, they render the
// same in any browser and in a file viewer. every chart has a <title> (what a
// screen reader says) and its numbers in <title> tooltips on the marks.

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export interface Series {
  name: string;
  values: Array<number | null>; // null (or a non-finite number) leaves a gap
  color?: string;
}

interface Margins { top: number; right: number; bottom: number; left: number }

const FONT = 'font-family="system-ui, DejaVu Sans, sans-serif"';
const CHAR_WIDTH = 6.3; // a rough width of one character at 11px, for layout only

// 1, 2, 2.5 or 5 times a power of ten, so that about `count` steps cover the range
export function niceStep(range: number, count: number): number {
  if (!(range > 0)) return 1;
  const raw = range / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / power;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nice * power;
}

export interface Axis { lo: number; hi: number; step: number; ticks: number[] }

// widens [min, max] to whole steps; a flat range gets some room around it
export function niceAxis(min: number, max: number, count = 5, integer = false): Axis {
  if (!Number.isFinite(min) || !Number.isFinite(max)) { min = 0; max = 1; }
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad; max += pad;
  }
  let step = niceStep(max - min, count);
  if (integer) step = Math.max(1, Math.round(step));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.push(+(lo + i * step).toPrecision(12));
  return { lo, hi, step, ticks };
}

export function formatTick(v: number, step: number, percent = false): string {
  const x = percent ? v * 100 : v;
  const s = percent ? step * 100 : step;
  // as many decimals as the step needs (2.5 needs one, 0.05 two), no more
  let decimals = 0;
  while (decimals < 6 && Math.abs(s * 10 ** decimals - Math.round(s * 10 ** decimals)) > 1e-6) decimals++;
  const text = (Math.abs(x) < s * 1e-9 ? 0 : x).toFixed(decimals);
  return percent ? `${text}%` : text;
}

function fmtValue(v: number, percent: boolean): string {
  if (percent) return `${(v * 100).toFixed(2)}%`;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

// legend items laid out left to right, wrapping; returns the svg and its height
function legend(series: Series[], x0: number, y0: number, width: number, kind: 'line' | 'box'): { svg: string; height: number } {
  if (series.length < 2) return { svg: '', height: 0 };
  const parts: string[] = [];
  let x = x0, y = y0;
  for (let i = 0; i < series.length; i++) {
    const s = series[i];
    const w = 22 + s.name.length * CHAR_WIDTH + 14;
    if (x > x0 && x + w > x0 + width) { x = x0; y += 16; }
    const color = s.color ?? PALETTE[i % PALETTE.length];
    parts.push(kind === 'line'
      ? `<line x1="${n2(x)}" y1="${n2(y - 4)}" x2="${n2(x + 16)}" y2="${n2(y - 4)}" stroke="${color}" stroke-width="2.5"/>`
      : `<rect x="${n2(x + 2)}" y="${n2(y - 10)}" width="12" height="10" fill="${color}"/>`);
    parts.push(`<text x="${n2(x + 21)}" y="${n2(y)}" font-size="11" fill="#333">${escapeHtml(s.name)}</text>`);
    x += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: y - y0 + 16 };
}

interface Frame { svg: string[]; m: Margins; plotW: number; plotH: number; width: number; height: number }

// title, legend, grid lines and y axis: the parts every chart has
function frame(title: string, width: number, height: number, series: Series[], legendKind: 'line' | 'box', left: number, bottom: number): Frame {
  const leg = legend(series, left, 36, width - left - 12, legendKind);
  const m: Margins = { top: 30 + leg.height + 8, right: 14, bottom, left };
  const svg: string[] = [];
  svg.push(`<text x="${left}" y="18" font-size="13" font-weight="600" fill="#1d2430">${escapeHtml(title)}</text>`);
  svg.push(leg.svg);
  return { svg, m, plotW: width - m.left - m.right, plotH: height - m.top - m.bottom, width, height };
}

function yAxis(f: Frame, axis: Axis, label: string | undefined, percent: boolean): void {
  const { m, plotW, plotH } = f;
  const y = (v: number) => m.top + plotH - ((v - axis.lo) / (axis.hi - axis.lo)) * plotH;
  for (const t of axis.ticks) {
    f.svg.push(`<line x1="${m.left}" y1="${n2(y(t))}" x2="${m.left + plotW}" y2="${n2(y(t))}" stroke="#e6e8ec"/>`);
    f.svg.push(`<text x="${m.left - 6}" y="${n2(y(t) + 4)}" font-size="11" text-anchor="end" fill="#555">${formatTick(t, axis.step, percent)}</text>`);
  }
  if (label) {
    const cy = m.top + plotH / 2;
    f.svg.push(`<text transform="translate(12 ${n2(cy)}) rotate(-90)" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(label)}</text>`);
  }
}

function close(f: Frame, title: string): string {
  const { m, plotW, plotH } = f;
  // the axes on top of the grid
  f.svg.push(`<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="#888"/>`);
  f.svg.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#888"/>`);
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" role="img" ${FONT}>`
    + `<title>${escapeHtml(title)}</title>${f.svg.join('')}</svg>`;
}

function finiteValues(series: Series[]): number[] {
  const out: number[] = [];
  for (const s of series) for (const v of s.values) if (v !== null && Number.isFinite(v)) out.push(v);
  return out;
}

export interface BarChartOptions {
  title: string;
  categories: string[];
  series: Series[]; // one value per category
  width?: number;
  height?: number;
  yLabel?: string;
  percent?: boolean; // values are fractions, shown as %
  yMin?: number; // default 0
  valueLabels?: boolean; // the value above each bar (for a few bars)
}

// grouped bars: one group per category, one bar per series
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 720, height = o.height ?? 300;
  const values = finiteValues(o.series);
  const axis = niceAxis(Math.min(o.yMin ?? 0, ...values), Math.max(...values, o.yMin ?? 0), 5);
  // the plot's width is width minus the left (56) and right (14) margins
  const groupW0 = (width - 70) / Math.max(1, o.categories.length);
  const longest = Math.max(0, ...o.categories.map((c) => c.length)) * CHAR_WIDTH;
  // labels that would run into each other are turned
  const rotate = longest > groupW0;
  const bottom = rotate ? 24 + longest * 0.6 : 32;
  const f = frame(o.title, width, height, o.series, 'box', 56, bottom);
  yAxis(f, axis, o.yLabel, !!o.percent);
  const { m, plotW, plotH } = f;
  const y = (v: number) => m.top + plotH - ((v - axis.lo) / (axis.hi - axis.lo)) * plotH;
  const groupW = plotW / Math.max(1, o.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, o.series.length);
  o.categories.forEach((cat, ci) => {
    const gx = m.left + ci * groupW + groupW * 0.1;
    o.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const color = s.color ?? PALETTE[si % PALETTE.length];
      const top = y(Math.max(v, axis.lo)), base = y(Math.max(axis.lo, Math.min(0, axis.hi)));
      f.svg.push(`<rect x="${n2(gx + si * barW)}" y="${n2(Math.min(top, base))}" width="${n2(Math.max(1, barW - 1))}" height="${n2(Math.abs(base - top))}" fill="${color}">`
        + `<title>${escapeHtml(`${s.name} ${cat}: ${fmtValue(v, !!o.percent)}`)}</title></rect>`);
      if (o.valueLabels) {
        f.svg.push(`<text x="${n2(gx + si * barW + barW / 2)}" y="${n2(Math.min(top, base) - 4)}" font-size="11" text-anchor="middle" fill="#333">${escapeHtml(fmtValue(v, !!o.percent))}</text>`);
      }
    });
    const cx = m.left + ci * groupW + groupW / 2, ty = m.top + plotH + 14;
    f.svg.push(rotate
      ? `<text transform="translate(${n2(cx + 3)} ${n2(ty - 4)}) rotate(-35)" font-size="11" text-anchor="end" fill="#333">${escapeHtml(cat)}</text>`
      : `<text x="${n2(cx)}" y="${n2(ty)}" font-size="11" text-anchor="middle" fill="#333">${escapeHtml(cat)}</text>`);
  });
  return close(f, o.title);
}

export interface LineChartOptions {
  title: string;
  x: number[];
  series: Series[]; // one value per x
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  percent?: boolean;
  yMin?: number;
  yMax?: number;
  integerX?: boolean; // epochs: whole-number ticks
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 460, height = o.height ?? 280;
  const values = finiteValues(o.series);
  const lo = o.yMin ?? (values.length ? Math.min(...values) : 0);
  const hi = o.yMax ?? (values.length ? Math.max(...values) : 1);
  const axis = niceAxis(lo, hi, 5);
  const xs = o.x.filter(Number.isFinite);
  const xAxis = niceAxis(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 6, !!o.integerX);
  const f = frame(o.title, width, height, o.series, 'line', 56, o.xLabel ? 40 : 26);
  yAxis(f, axis, o.yLabel, !!o.percent);
  const { m, plotW, plotH } = f;
  const px = (v: number) => m.left + ((v - xAxis.lo) / (xAxis.hi - xAxis.lo)) * plotW;
  const py = (v: number) => m.top + plotH - ((v - axis.lo) / (axis.hi - axis.lo)) * plotH;
  for (const t of xAxis.ticks) {
    f.svg.push(`<line x1="${n2(px(t))}" y1="${m.top + plotH}" x2="${n2(px(t))}" y2="${m.top + plotH + 4}" stroke="#888"/>`);
    f.svg.push(`<text x="${n2(px(t))}" y="${m.top + plotH + 16}" font-size="11" text-anchor="middle" fill="#555">${formatTick(t, xAxis.step)}</text>`);
  }
  if (o.xLabel) f.svg.push(`<text x="${n2(m.left + plotW / 2)}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(o.xLabel)}</text>`);
  const markers = o.x.length <= 40;
  o.series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    let d = '';
    let pen = false;
    const dots: string[] = [];
    for (let i = 0; i < o.x.length; i++) {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v) || !Number.isFinite(o.x[i])) { pen = false; continue; }
      // a value outside a fixed y range is drawn at the edge, not off the chart
      const yv = Math.min(axis.hi, Math.max(axis.lo, v));
      d += `${pen ? 'L' : 'M'}${n2(px(o.x[i]))} ${n2(py(yv))}`;
      pen = true;
      if (markers) dots.push(`<circle cx="${n2(px(o.x[i]))}" cy="${n2(py(yv))}" r="3" fill="${color}"><title>${escapeHtml(`${s.name}, ${o.xLabel ?? 'x'} ${o.x[i]}: ${fmtValue(v, !!o.percent)}`)}</title></circle>`);
    }
    if (d) f.svg.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/>`);
    f.svg.push(dots.join(''));
  });
  return close(f, o.title);
}

export interface HistogramOptions {
  title: string;
  binStart: number; // left edge of the first bin
  binWidth: number;
  series: Series[]; // one value per bin, overlaid
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  percent?: boolean;
}

// overlaid step outlines, so two distributions (train, test) read against each other
export function histogram(o: HistogramOptions): string {
  const width = o.width ?? 400, height = o.height ?? 250;
  const bins = Math.max(0, ...o.series.map((s) => s.values.length));
  const values = finiteValues(o.series);
  const axis = niceAxis(0, values.length ? Math.max(...values) : 1, 4);
  const xAxis = niceAxis(o.binStart, o.binStart + bins * o.binWidth, 6);
  // the bins fill the plot exactly; ticks inside the bin range only
  const x0 = o.binStart, x1 = o.binStart + bins * o.binWidth;
  const f = frame(o.title, width, height, o.series, 'box', 56, o.xLabel ? 40 : 26);
  yAxis(f, axis, o.yLabel, !!o.percent);
  const { m, plotW, plotH } = f;
  const px = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * plotW;
  const py = (v: number) => m.top + plotH - ((v - axis.lo) / (axis.hi - axis.lo)) * plotH;
  for (const t of xAxis.ticks) {
    if (t < x0 || t > x1) continue;
    f.svg.push(`<line x1="${n2(px(t))}" y1="${m.top + plotH}" x2="${n2(px(t))}" y2="${m.top + plotH + 4}" stroke="#888"/>`);
    f.svg.push(`<text x="${n2(px(t))}" y="${m.top + plotH + 16}" font-size="11" text-anchor="middle" fill="#555">${formatTick(t, xAxis.step)}</text>`);
  }
  if (o.xLabel) f.svg.push(`<text x="${n2(m.left + plotW / 2)}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(o.xLabel)}</text>`);
  o.series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    // a step outline: a point only where the height changes, so 256 bins of
    // smooth data stay a short path
    const base = n2(py(0));
    let prev = base;
    let d = `M${n2(px(x0))} ${base}`;
    for (let i = 0; i < s.values.length; i++) {
      const raw = s.values[i];
      const y = n2(py(raw === null || !Number.isFinite(raw) ? 0 : raw));
      if (y === prev) continue;
      const x = n2(px(x0 + i * o.binWidth));
      d += `L${x} ${prev}L${x} ${y}`;
      prev = y;
    }
    const end = n2(px(x0 + s.values.length * o.binWidth));
    d += `L${end} ${prev}L${end} ${base}Z`;
    // the first series is a filled area, the others outlines over it, so the
    // first keeps its colour where they overlap
    const fill = si === 0 ? `fill="${color}" fill-opacity="0.25"` : 'fill="none"';
    f.svg.push(`<path d="${d}" ${fill} stroke="${color}" stroke-width="1.2" stroke-linejoin="round"><title>${escapeHtml(s.name)}</title></path>`);
  });
  return close(f, o.title);
}
