import path from 'path';
import { escapeHtml, htmlTable, renderPage, slug } from './html';
import { barChart, lineChart, Series } from './svg';
import { MetricsRow, ResultRow, ResultsTable, RunRecord, RunsFolder } from './runs';
import { sweepAnchor, sweepSection } from './sweep';

// the training report: every run's loss and accuracy per epoch (train and
// test), all runs' test accuracy on one chart, and the experiments tables with
// the best row marked, so runs compare at a glance.

const pctText = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '–');
const numText = (v: unknown, digits: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');
const plain = (v: unknown) => (v === undefined || v === null || v === '' ? '–' : escapeHtml(String(v)));

function field(run: RunRecord, key: string): unknown {
  if (run.config && run.config[key] !== undefined) return run.config[key];
  if (run.summary && run.summary[key] !== undefined) return run.summary[key];
  return undefined;
}

function runAnchor(run: RunRecord): string {
  return `run-${slug(run.name)}`;
}

function bestTest(metrics: MetricsRow[]): MetricsRow | null {
  let best: MetricsRow | null = null;
  for (const r of metrics) if (r.test_accuracy !== null && (best === null || r.test_accuracy > (best.test_accuracy ?? -1))) best = r;
  return best;
}

function nanOf(run: RunRecord): { epoch: number; step: number } | null {
  const fromRows = run.metrics.find((r) => r.nan_at)?.nan_at ?? null;
  const s = run.summary?.nan as { epoch?: number; step?: number } | null | undefined;
  if (fromRows) return fromRows;
  return s && typeof s.epoch === 'number' && typeof s.step === 'number' ? { epoch: s.epoch, step: s.step } : null;
}

function runState(run: RunRecord): string {
  if (run.damaged) return `<span class="warn">damaged: ${escapeHtml(run.damaged.message)}</span>`;
  const nan = nanOf(run);
  if (nan) return `<span class="warn">loss not finite from epoch ${nan.epoch}, step ${nan.step}</span>`;
  if (run.metrics.length === 0) return 'no epoch finished yet';
  if (!run.summary) return 'in progress (no summary.json yet)';
  return 'finished';
}

function mean(values: Array<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

function overviewSection(folder: RunsFolder): string {
  const runs = folder.runs;
  if (runs.length === 0) return '<p class="note">No training runs here, only experiments tables.</p>';
  const finals = runs.map((r) => r.metrics[r.metrics.length - 1]?.test_accuracy ?? null);
  const top = Math.max(...finals.map((v) => v ?? -Infinity));
  const highlight = Number.isFinite(top) && runs.length > 1 ? finals.flatMap((v, i) => (v === top ? [i] : [])) : [];
  const rows = runs.map((r) => {
    const last = r.metrics[r.metrics.length - 1];
    const best = bestTest(r.metrics);
    const planned = field(r, 'epochs') ?? field(r, 'epochs_planned');
    return [
      `<a href="#${runAnchor(r)}">${escapeHtml(r.name)}</a>`,
      plain(field(r, 'model')), plain(field(r, 'optimizer')), plain(field(r, 'lr')), plain(field(r, 'batch')),
      `${r.metrics.length}${typeof planned === 'number' ? ` / ${planned}` : ''}`,
      pctText(last?.test_accuracy), best ? `${pctText(best.test_accuracy)} (epoch ${best.epoch})` : '–',
      numText(last?.train_loss, 4), numText(last?.test_loss, 4),
      numText(mean(r.metrics.map((m) => m.seconds)), 1), numText(mean(r.metrics.map((m) => m.images_per_second)), 0),
      plain(field(r, 'device')), runState(r),
    ];
  });
  const table = htmlTable(
    ['run', 'model', 'optimizer', 'lr', 'batch', 'epochs', 'test accuracy', 'best test accuracy', 'train loss', 'test loss', 's / epoch', 'images / s', 'device', 'state'],
    rows, { numeric: [3, 4, 5, 6, 7, 8, 9, 10, 11], highlight },
  );
  let charts = '';
  const withMetrics = runs.filter((r) => r.metrics.length > 0);
  if (withMetrics.length > 1) {
    const epochs = [...new Set(withMetrics.flatMap((r) => r.metrics.map((m) => m.epoch)))].sort((a, b) => a - b);
    const seriesOf = (key: keyof MetricsRow): Series[] => withMetrics.map((r) => ({
      name: r.name,
      values: epochs.map((e) => (r.metrics.find((m) => m.epoch === e)?.[key] as number | null | undefined) ?? null),
    }));
    charts = '<div class="charts">'
      + `<figure>${lineChart({ title: 'Test accuracy, all runs', x: epochs, series: seriesOf('test_accuracy'), xLabel: 'epoch', yLabel: 'accuracy', percent: true, integerX: true, width: 560, height: 320 })}</figure>`
      + `<figure>${lineChart({ title: 'Train loss, all runs', x: epochs, series: seriesOf('train_loss'), xLabel: 'epoch', yLabel: 'loss', integerX: true, width: 560, height: 320 })}</figure>`
      + '</div>';
  }
  return `${table}${highlight.length ? '<p class="note">The highlighted row has the highest final test accuracy.</p>' : ''}${charts}`;
}

// the run a results row points at: its "run" path, else its name under the table's folder
function runOfResult(folder: RunsFolder, table: ResultsTable, row: ResultRow): RunRecord | undefined {
  const byPath = (p: string) => folder.runs.find((r) => path.resolve(r.dir) === path.resolve(p));
  if (typeof row.run === 'string') {
    const hit = byPath(row.run) ?? byPath(path.join(path.dirname(path.resolve(folder.dir)), row.run));
    if (hit) return hit;
  }
  return folder.runs.find((r) => r.name === `${table.name}/${row.name}`) ?? folder.runs.find((r) => r.name === row.name);
}

function resultsSection(folder: RunsFolder): string {
  return folder.results.map((t) => {
    const accs = t.rows.map((r) => (typeof r.test_accuracy === 'number' ? r.test_accuracy : -Infinity));
    const top = Math.max(...accs);
    const highlight = Number.isFinite(top) && t.rows.length > 1 ? accs.flatMap((v, i) => (v === top ? [i] : [])) : [];
    const rows = t.rows.map((r) => {
      const run = runOfResult(folder, t, r);
      const note = r.nan ? `<span class="warn">loss not finite from epoch ${r.nan.epoch}, step ${r.nan.step}</span>` : '';
      return [
        run ? `<a href="#${runAnchor(run)}">${escapeHtml(r.name)}</a>` : escapeHtml(r.name),
        plain(r.model), plain(r.lr), plain(r.batch), plain(r.epochs), pctText(r.test_accuracy), numText(r.seconds_per_epoch, 2), plain(r.device), note,
      ];
    });
    const table = htmlTable(['experiment', 'model', 'lr', 'batch', 'epochs', 'test accuracy', 's / epoch', 'device', 'note'], rows, { numeric: [2, 3, 4, 5, 6], highlight });
    const chart = barChart({
      title: `Test accuracy: ${t.name}`,
      categories: t.rows.map((r) => r.name),
      series: [{ name: 'test accuracy', values: t.rows.map((r) => (typeof r.test_accuracy === 'number' ? r.test_accuracy : null)) }],
      percent: true,
      yLabel: 'accuracy',
      valueLabels: true,
      width: Math.min(720, 160 + 90 * t.rows.length),
      height: 260,
    });
    return `<h3>${escapeHtml(t.name)} <span class="note">(<code>${escapeHtml(t.file)}</code>)</span></h3><div class="charts"><div>${table}</div><figure>${chart}</figure></div>`;
  }).join('\n');
}

function runSection(run: RunRecord): string {
  const settings = ['model', 'optimizer', 'lr', 'batch', 'epochs', 'seed', 'device', 'limit', 'augment']
    .filter((k) => field(run, k) !== undefined)
    .map((k) => `${k} <code>${escapeHtml(JSON.stringify(field(run, k)))}</code>`)
    .join(' · ');
  const head = `<p class="note"><code>${escapeHtml(run.dir)}</code>${settings ? ` · ${settings}` : ''} · ${runState(run)}</p>`;
  if (run.damaged) return `${head}<p class="note">Not drawn: <code>${escapeHtml(run.damaged.file)}</code> cannot be read.</p>`;
  if (run.metrics.length === 0) return `${head}<p class="note">metrics.jsonl has no epochs yet.</p>`;
  const x = run.metrics.map((m) => m.epoch);
  const s = (name: string, key: keyof MetricsRow, color: string): Series => ({ name, color, values: run.metrics.map((m) => m[key] as number | null) });
  const loss = lineChart({
    title: 'Loss', x, xLabel: 'epoch', yLabel: 'cross-entropy', integerX: true,
    series: [s('train', 'train_loss', '#1f77b4'), s('test', 'test_loss', '#ff7f0e')],
  });
  const acc = lineChart({
    title: 'Accuracy', x, xLabel: 'epoch', yLabel: 'accuracy', integerX: true, percent: true,
    series: [s('train', 'train_accuracy', '#1f77b4'), s('test', 'test_accuracy', '#ff7f0e')],
  });
  const rows = run.metrics.map((m) => [
    String(m.epoch), numText(m.train_loss, 4), pctText(m.train_accuracy), numText(m.test_loss, 4), pctText(m.test_accuracy),
    numText(m.seconds, 1), numText(m.images_per_second, 0), m.nan_at ? `<span class="warn">not finite at step ${m.nan_at.step}</span>` : '',
  ]);
  const table = htmlTable(['epoch', 'train loss', 'train accuracy', 'test loss', 'test accuracy', 'seconds', 'images / s', 'note'], rows, { numeric: [0, 1, 2, 3, 4, 5, 6] });
  return `${head}<div class="charts"><figure>${loss}</figure><figure>${acc}</figure></div><details><summary>metrics per epoch</summary>${table}</details>`;
}

export function renderTrainingPage(folder: RunsFolder, generatedAt: Date = new Date()): string {
  const sections: Array<{ id: string; heading: string; body: string }> = [];
  if (folder.runs.length > 0) sections.push({ id: 'runs', heading: 'Runs', body: overviewSection(folder) });
  if (folder.results.length > 0) sections.push({ id: 'experiments', heading: 'Experiments', body: resultsSection(folder) });
  for (const t of folder.sweeps ?? []) sections.push({ id: sweepAnchor(t), heading: `Sweep: ${t.name}`, body: sweepSection(t) });
  for (const run of folder.runs) sections.push({ id: runAnchor(run), heading: run.name, body: runSection(run) });
  return renderPage({
    title: 'Training runs',
    subtitle: `runs: <code>${escapeHtml(folder.dir)}</code> · ${folder.runs.length} run${folder.runs.length === 1 ? '' : 's'}, ${folder.results.length} experiments table${folder.results.length === 1 ? '' : 's'} · generated ${escapeHtml(generatedAt.toISOString().replace('T', ' ').slice(0, 19))} UTC`,
    sections,
  });
}
