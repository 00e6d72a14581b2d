import { escapeHtml, htmlTable, slug } from './html';
import { formatTick, niceAxis, PALETTE } from './svg';
import type { TrialResult } from '../sweep/results';

// a sweep's part of the training report: a heatmap of the test accuracy over
// the first two swept parameters (the mean over seeds), the accuracy against
// each swept parameter, and the results table with the best trial marked.
// drawn from OUT/SWEEP/results.json as `cudalab sweep` writes it.

/** a row of results.json as `cudalab sweep` writes it; the status read as any string, so a file from another version still draws */
export type SweepTrialRow = Omit<TrialResult, 'status' | 'upload'> & { status: string };

export interface SweepTable {
  name: string; // the sweep's folder below the runs folder
  file: string;
  sweep: string;
  description: string;
  parameters: string[];
  trials: SweepTrialRow[];
}

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();
const FONT = 'font-family="system-ui, DejaVu Sans, sans-serif"';
const pct = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '–');
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

function finished(t: SweepTable): SweepTrialRow[] {
  return t.trials.filter((r) => r.status === 'done' && typeof r.test_accuracy === 'number' && Number.isFinite(r.test_accuracy));
}

/** the finished trial with the highest test accuracy (the first of equals) */
export function bestOf(t: SweepTable): SweepTrialRow | null {
  let best: SweepTrialRow | null = null;
  for (const r of finished(t)) if (best === null || r.test_accuracy! > best.test_accuracy!) best = r;
  return best;
}

// a swept parameter's values in order: numbers ascending, others as first seen
function valuesOf(rows: SweepTrialRow[], param: string): unknown[] {
  const seen = new Map<string, unknown>();
  for (const r of rows) if (!seen.has(show(r.params[param]))) seen.set(show(r.params[param]), r.params[param]);
  const values = [...seen.values()];
  return values.every((v) => typeof v === 'number') ? (values as number[]).sort((a, b) => a - b) : values;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// white to green by accuracy, on the range the sweep reached
function shade(v: number, lo: number, hi: number): string {
  const f = hi > lo ? (v - lo) / (hi - lo) : 1;
  const mix = (a: number, b: number) => Math.round(a + (b - a) * f);
  return `rgb(${mix(247, 35)},${mix(252, 139)},${mix(245, 69)})`;
}

/** accuracy over two parameters: a cell per pair of values, the mean over its trials (seeds) */
export function heatmap(t: SweepTable, px: string, py: string): string {
  const rows = finished(t);
  const xs = valuesOf(t.trials, px);
  const ys = valuesOf(t.trials, py);
  const cell = 46, left = 70, top = 40, bottom = 44;
  const title = `Test accuracy: ${py} x ${px} (mean over seeds)`;
  const width = Math.max(left + xs.length * cell + 20, Math.ceil(16 + title.length * 7.8)), height = top + ys.length * cell + bottom;
  const cells = new Map<string, number>();
  for (const x of xs) for (const y of ys) {
    const accs = rows.filter((r) => show(r.params[px]) === show(x) && show(r.params[py]) === show(y)).map((r) => r.test_accuracy!);
    if (accs.length) cells.set(`${show(x)}|${show(y)}`, mean(accs));
  }
  const all = [...cells.values()];
  const lo = Math.min(...all), hi = Math.max(...all);
  const svg: string[] = [`<text x="8" y="18" font-size="13" font-weight="600" fill="#1d2430">${escapeHtml(title)}</text>`];
  ys.forEach((y, j) => {
    // the largest value at the top, as on a y axis
    const cy = top + (ys.length - 1 - j) * cell;
    svg.push(`<text x="${left - 6}" y="${n2(cy + cell / 2 + 4)}" font-size="11" text-anchor="end" fill="#555">${escapeHtml(show(y))}</text>`);
    xs.forEach((x, i) => {
      const v = cells.get(`${show(x)}|${show(y)}`);
      const cx = left + i * cell;
      const best = v !== undefined && v === hi;
      svg.push(`<rect class="cell" x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="${v === undefined ? '#eee' : shade(v, lo, hi)}" stroke="${best ? '#1d2430' : '#fff'}" stroke-width="${best ? 2.5 : 1}">`
        + `<title>${escapeHtml(`${px} ${show(x)}, ${py} ${show(y)}: ${v === undefined ? 'no finished trial' : pct(v)}`)}</title></rect>`);
      if (v !== undefined) {
        const dark = hi > lo && (v - lo) / (hi - lo) > 0.6;
        svg.push(`<text x="${n2(cx + cell / 2)}" y="${n2(cy + cell / 2 + 4)}" font-size="10" text-anchor="middle" fill="${dark ? '#fff' : '#1d2430'}">${(100 * v).toFixed(1)}</text>`);
      }
    });
  });
  xs.forEach((x, i) => svg.push(`<text x="${n2(left + i * cell + cell / 2)}" y="${top + ys.length * cell + 16}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(show(x))}</text>`));
  svg.push(`<text x="${n2(left + (xs.length * cell) / 2)}" y="${height - 8}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(px)}</text>`);
  svg.push(`<text transform="translate(14 ${n2(top + (ys.length * cell) / 2)}) rotate(-90)" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(py)}</text>`);
  return `<svg class="chart heatmap" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ${FONT}><title>${escapeHtml(title)}</title>${svg.join('')}</svg>`;
}

/**
 * each trial's test accuracy against one parameter, a colour per seed; a
 * numeric parameter spanning two decades or more on a log axis, a
 * non-numeric one (an optimizer, say) as evenly spaced categories
 */
export function accuracyAgainst(t: SweepTable, param: string): string {
  const rows = finished(t);
  const values = valuesOf(t.trials, param);
  const numeric = values.every((v) => typeof v === 'number');
  const nums = numeric ? (values as number[]) : [];
  const log = numeric && nums.length > 1 && nums[0] > 0 && nums[nums.length - 1] / nums[0] >= 100;
  const pos = (v: unknown): number => (!numeric ? values.findIndex((x) => show(x) === show(v)) : log ? Math.log10(v as number) : (v as number));
  const width = 360, height = 250;
  const m = { top: 30, right: 24, bottom: 40, left: 56 };
  const plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
  const accs = rows.map((r) => r.test_accuracy!);
  const yAxis = niceAxis(accs.length ? Math.min(...accs) : 0, accs.length ? Math.max(...accs) : 1, 5);
  const ps = values.map(pos);
  let xlo = Math.min(...ps), xhi = Math.max(...ps);
  if (!numeric || xlo === xhi) { xlo -= 0.5; xhi += 0.5; }
  const xAxis = numeric && !log ? niceAxis(xlo, xhi, 5) : { lo: xlo, hi: xhi, step: 1, ticks: [] as number[] };
  const X = (p: number) => m.left + ((p - xAxis.lo) / (xAxis.hi - xAxis.lo)) * plotW;
  const Y = (v: number) => m.top + plotH - ((v - yAxis.lo) / (yAxis.hi - yAxis.lo)) * plotH;
  const title = `Test accuracy against ${param}`;
  const svg: string[] = [`<text x="${m.left}" y="18" font-size="13" font-weight="600" fill="#1d2430">${escapeHtml(title)}</text>`];
  for (const tick of yAxis.ticks) {
    svg.push(`<line x1="${m.left}" y1="${n2(Y(tick))}" x2="${m.left + plotW}" y2="${n2(Y(tick))}" stroke="#e6e8ec"/>`);
    svg.push(`<text x="${m.left - 6}" y="${n2(Y(tick) + 4)}" font-size="11" text-anchor="end" fill="#555">${formatTick(tick, yAxis.step, true)}</text>`);
  }
  const xTicks: Array<[number, string]> = !numeric
    ? values.map((v, i) => [i, show(v)])
    : log
      ? Array.from({ length: Math.floor(xhi) - Math.ceil(xlo) + 1 }, (_, k) => Math.ceil(xlo) + k).map((e) => [e, `1e${e}`])
      : xAxis.ticks.map((v) => [v, formatTick(v, xAxis.step)]);
  for (const [p, label] of xTicks) {
    svg.push(`<line x1="${n2(X(p))}" y1="${m.top + plotH}" x2="${n2(X(p))}" y2="${m.top + plotH + 4}" stroke="#888"/>`);
    svg.push(`<text x="${n2(X(p))}" y="${m.top + plotH + 16}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(label)}</text>`);
  }
  svg.push(`<text x="${n2(m.left + plotW / 2)}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(param)}${log ? ' (log scale)' : ''}</text>`);
  const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
  const best = bestOf(t);
  for (const r of rows) {
    const color = PALETTE[seeds.indexOf(r.seed) % PALETTE.length];
    const isBest = r === best;
    svg.push(`<circle class="trial" cx="${n2(X(pos(r.params[param])))}" cy="${n2(Y(r.test_accuracy!))}" r="${isBest ? 5.5 : 4}" fill="${color}" fill-opacity="0.8"${isBest ? ' stroke="#1d2430" stroke-width="2"' : ''}>`
      + `<title>${escapeHtml(`${r.name}: ${param} ${show(r.params[param])}, seed ${r.seed}: ${pct(r.test_accuracy)}${isBest ? ' (best)' : ''}`)}</title></circle>`);
  }
  svg.push(`<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="#888"/>`);
  svg.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#888"/>`);
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ${FONT}><title>${escapeHtml(title)}</title>${svg.join('')}</svg>`;
}

// more distinct values than this and a parameter is no heatmap axis (a random search's lr, say)
const HEATMAP_MAX_VALUES = 16;

export function sweepAnchor(t: SweepTable): string {
  return `sweep-${slug(t.name)}`;
}

export function sweepSection(t: SweepTable): string {
  const params = t.parameters.filter((p) => p !== 'seed');
  const best = bestOf(t);
  const done = finished(t).length;
  const failed = t.trials.filter((r) => r.status === 'failed').length;
  const parts: string[] = [];
  parts.push(`<p class="note"><code>${escapeHtml(t.file)}</code> · sweep <code>${escapeHtml(t.sweep)}</code> · ${t.trials.length} trials, ${done} done, ${failed} failed`
    + (best ? ` · best <strong>${escapeHtml(best.name)}</strong> at ${pct(best.test_accuracy)}` : '') + '</p>');
  if (t.description) parts.push(`<p class="note">${escapeHtml(t.description)}</p>`);
  const charts: string[] = [];
  if (done > 0) {
    const axes = params.filter((p) => valuesOf(t.trials, p).length <= HEATMAP_MAX_VALUES);
    if (axes.length >= 2) charts.push(`<figure>${heatmap(t, axes[0], axes[1])}</figure>`);
    for (const p of params) charts.push(`<figure>${accuracyAgainst(t, p)}</figure>`);
  }
  if (charts.length) parts.push(`<div class="charts">${charts.join('')}</div>`);
  const highlight = best ? [t.trials.indexOf(best)] : [];
  const rows = t.trials.map((r) => [
    escapeHtml(r.name), ...params.map((p) => escapeHtml(show(r.params[p]))), String(r.seed),
    r.status === 'failed' ? '<span class="warn">failed</span>' : escapeHtml(r.status),
    pct(r.test_accuracy), pct(r.best_accuracy), typeof r.seconds === 'number' ? r.seconds.toFixed(1) : '–',
    escapeHtml(r.worker ?? '–'), r.error ? `<span class="warn">${escapeHtml(r.error)}</span>` : '',
  ]);
  const header = ['trial', ...params.map(escapeHtml), 'seed', 'status', 'test accuracy', 'best accuracy', 'seconds', 'worker', 'note'];
  const numeric = [...params.keys()].map((i) => i + 1).concat([params.length + 1, params.length + 3, params.length + 4, params.length + 5]);
  parts.push(htmlTable(header, rows, { numeric, highlight }));
  if (best) parts.push('<p class="note">The highlighted row is the trial with the highest final test accuracy; the heatmap outlines the cell with the highest mean over seeds.</p>');
  return parts.join('\n');
}
