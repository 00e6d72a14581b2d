import { escapeHtml, htmlTable, renderPage, slug } from './html';
import { barChart, histogram } from './svg';
import { imageGrid, pngDataUrl, pngSize } from './png';
import { CHANNELS, ChannelHistograms, ChannelMoments, SplitLike, channelHistograms, channelMoments, classCounts, mergeHistograms } from './pixel-stats';
import { DuplicateSummary, ImageRef, findDuplicates } from './duplicates';
import { ProgressSink, silentProgress } from './progress';

// exploratory data analysis of a cifar-style data set: what is in it (class
// balance, what the images look like), the numbers normalisation needs (per
// channel mean and std), and whether test images leak from train (exact
// duplicates). the statistics and the page are separate so tests can check
// the numbers without parsing html.

// the part of loadCifar10's result this page reads
export interface EdaDataset {
  classes: string[];
  train: SplitLike;
  test: SplitLike;
  dir: string;
  format: string;
}

export interface SplitStats {
  name: string;
  count: number;
  classCounts: number[];
  histograms: ChannelHistograms;
  moments: ChannelMoments;
}

export interface EdaStats {
  classes: string[];
  splits: SplitStats[];
  combined: ChannelMoments; // every split together
  duplicates: DuplicateSummary;
  samples: number[][]; // per class, indices into the train split
}

export interface EdaOptions {
  samplesPerClass?: number;
  progress?: ProgressSink;
}

function splitsOf(data: EdaDataset): Array<{ name: string; split: SplitLike }> {
  return [{ name: 'train', split: data.train }, { name: 'test', split: data.test }];
}

export function computeEdaStats(data: EdaDataset, opts: EdaOptions = {}): EdaStats {
  const progress = opts.progress ?? silentProgress;
  const perClass = opts.samplesPerClass ?? 10;
  const splits: SplitStats[] = [];
  for (const { name, split } of splitsOf(data)) {
    progress.start(`pixel statistics (${name})`, split.count);
    const histograms = channelHistograms(split, progress);
    progress.end(`${split.count} images`);
    splits.push({ name, count: split.count, classCounts: classCounts(split, data.classes.length), histograms, moments: channelMoments(histograms) });
  }
  const combined = channelMoments(splits.map((s) => s.histograms).reduce((a, b) => mergeHistograms(a, b)));

  const total = splits.reduce((n, s) => n + s.count, 0);
  progress.start('hashing images for duplicates', total);
  const duplicates = findDuplicates(splitsOf(data), progress);
  progress.end(`${duplicates.groups.length} groups of identical images`);

  // the first images of each class: deterministic, and the same from run to run
  const samples: number[][] = data.classes.map(() => []);
  for (let i = 0; i < data.train.count; i++) {
    const row = samples[data.train.labels[i]];
    if (row && row.length < perClass) row.push(i);
  }
  return { classes: data.classes, splits, combined, duplicates, samples };
}

// 50,000 reads faster than 50000
const count = (n: number) => n.toLocaleString('en-US');
const pct = (n: number, total: number) => (total > 0 ? `${((100 * n) / total).toFixed(1)}%` : '–');
const fixed = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : '–');

function overviewSection(data: EdaDataset, stats: EdaStats): string {
  const rows = stats.splits.map((s) => [
    escapeHtml(s.name), count(s.count), String(s.classCounts.filter((c) => c > 0).length),
    `${(s.count * 3072 / 1e6).toFixed(1)} MB`,
  ]);
  return `<p class="note">${stats.classes.length} classes, 32×32 RGB images (3072 bytes each: R plane, G plane, B plane).</p>`
    + htmlTable(['split', 'images', 'classes present', 'pixel data'], rows, { numeric: [1, 2, 3] });
}

function classSection(stats: EdaStats): string {
  const chart = barChart({
    title: 'Images per class',
    categories: stats.classes,
    series: stats.splits.map((s) => ({ name: s.name, values: s.classCounts })),
    yLabel: 'images',
    width: 700,
    height: 320,
  });
  const header = ['class', ...stats.splits.flatMap((s) => [escapeHtml(s.name), `${escapeHtml(s.name)} share`])];
  const rows = stats.classes.map((c, ci) => [
    escapeHtml(c), ...stats.splits.flatMap((s) => [count(s.classCounts[ci]), pct(s.classCounts[ci], s.count)]),
  ]);
  rows.push(['<b>all</b>', ...stats.splits.flatMap((s) => [`<b>${count(s.count)}</b>`, ''])]);
  const numeric = header.map((_, i) => i).filter((i) => i > 0);
  const balanced = stats.splits.every((s) => new Set(s.classCounts).size <= 1);
  const note = balanced
    ? '<p class="note">Every class has the same number of images in each split.</p>'
    : '<p class="note">The classes are not equally represented: compare accuracy against the majority-class rate, not 1/classes.</p>';
  return `<div class="charts"><figure>${chart}</figure><div>${htmlTable(header, rows, { numeric })}</div></div>${note}`;
}

function samplesSection(data: EdaDataset, stats: EdaStats): string {
  const perClass = Math.max(0, ...stats.samples.map((r) => r.length));
  const rows = stats.classes.map((c, ci) => {
    const indices = stats.samples[ci];
    if (indices.length === 0) return `<div class="grid-row"><span class="label">${escapeHtml(c)}</span><span class="note">no images in the train split</span></div>`;
    const png = imageGrid(data.train.images, [indices], { scale: 2, gap: 2 });
    const { width, height } = pngSize(png);
    const alt = `${c}: train images ${indices.join(', ')}`;
    return `<div class="grid-row"><span class="label">${escapeHtml(c)}</span><img class="pixels" src="${pngDataUrl(png)}" width="${width}" height="${height}" alt="${escapeHtml(alt)}" title="${escapeHtml(alt)}"></div>`;
  });
  const fewer = stats.samples.some((r) => r.length < perClass) ? ' (all of them where a class has fewer)' : '';
  return `<p class="note">The first ${perClass} train images of each class${fewer}, each 32×32 pixel drawn as 2×2.</p>\n${rows.join('\n')}`;
}

function channelSection(stats: EdaStats): string {
  const rows: string[][] = [];
  const add = (name: string, m: ChannelMoments) => {
    CHANNELS.forEach((ch, c) => rows.push([
      escapeHtml(name), ch,
      fixed(m.mean[c], 2), fixed(m.std[c], 2), fixed(m.mean[c] / 255, 4), fixed(m.std[c] / 255, 4),
    ]));
  };
  for (const s of stats.splits) add(s.name, s.moments);
  add('all', stats.combined);
  const train = stats.splits.find((s) => s.name === 'train');
  const snippet = train && train.count > 0
    ? `<p class="note">To normalise with the train statistics: <code>{ mean: [${train.moments.mean.map((v) => fixed(v / 255, 4)).join(', ')}], std: [${train.moments.std.map((v) => fixed(v / 255, 4)).join(', ')}] }</code> (the default, 0.5 and 0.5, maps 0..1 to -1..1 instead).</p>`
    : '';
  return `<p class="note">Mean and standard deviation over every pixel of the split (population std), per channel.</p>`
    + htmlTable(['split', 'channel', 'mean (0..255)', 'std (0..255)', 'mean (0..1)', 'std (0..1)'], rows, { numeric: [2, 3, 4, 5] })
    + snippet;
}

function histogramSection(stats: EdaStats): string {
  const colors: Record<string, string> = { R: '#d62728', G: '#2ca02c', B: '#1f77b4' };
  const charts = CHANNELS.map((ch, c) => histogram({
    title: `${ch} channel`,
    binStart: 0,
    binWidth: 1,
    series: stats.splits.map((s, si) => ({
      name: s.name,
      color: si === 0 ? colors[ch] : '#555',
      values: Array.from(s.histograms.counts[c], (n) => (s.histograms.pixelsPerChannel > 0 ? n / s.histograms.pixelsPerChannel : 0)),
    })),
    xLabel: 'pixel value',
    yLabel: 'share of pixels',
    percent: true,
    width: 370,
    height: 260,
  }));
  return `<p class="note">Share of pixels at each value 0..255, per channel; the splits overlaid.</p><div class="charts">${charts.map((c) => `<figure>${c}</figure>`).join('')}</div>`;
}

function describe(ref: ImageRef, classes: string[]): string {
  return `${ref.split} #${ref.index} (${classes[ref.label] ?? `label ${ref.label}`})`;
}

function duplicatesSection(data: EdaDataset, stats: EdaStats, maxPairs = 12): string {
  const d = stats.duplicates;
  const names = stats.splits.map((s) => s.name);
  const rows: string[][] = [];
  for (const n of names) rows.push([`within ${escapeHtml(n)}`, count(d.groupsWithin[n]), `${count(d.extraCopies[n])} extra ${d.extraCopies[n] === 1 ? 'copy' : 'copies'}`]);
  rows.push([`across ${names.map(escapeHtml).join(' and ')}`, count(d.groupsAcross), names.map((n) => `${count(d.imagesAcross[n])} ${escapeHtml(n)}`).join(', ') + ' images']);
  rows.push(['with different labels', count(d.labelConflicts), '']);
  const table = htmlTable(['identical images', 'groups', 'images involved'], rows, { numeric: [1] });
  const verdict = d.groups.length === 0
    ? '<p class="ok">No two images are byte-for-byte identical.</p>'
    : d.groupsAcross > 0
      ? `<p class="warn">${d.imagesAcross.test ?? 0} test images also appear in train: they measure memory, not generalisation.</p>`
      : '<p class="note">No image appears in more than one split.</p>';

  // a few pairs to look at, those across splits first
  const byName = new Map(splitsOf(data).map((s) => [s.name, s.split]));
  const figures: string[] = [];
  for (const g of d.groups.slice(0, maxPairs)) {
    const [a, b] = g.members;
    // both images side by side in one png: the first image's bytes twice would
    // hide a wrong pair, so each comes from its own split
    const images = new Uint8Array(2 * 3072);
    images.set(byName.get(a.split)!.images.subarray(a.index * 3072, (a.index + 1) * 3072), 0);
    images.set(byName.get(b.split)!.images.subarray(b.index * 3072, (b.index + 1) * 3072), 3072);
    const png = imageGrid(images, [[0, 1]], { scale: 3, gap: 3 });
    const { width, height } = pngSize(png);
    const more = g.members.length > 2 ? ` and ${g.members.length - 2} more` : '';
    const caption = `${describe(a, stats.classes)} = ${describe(b, stats.classes)}${more}`;
    const conflict = a.label !== b.label ? ' <span class="warn">labels differ</span>' : '';
    figures.push(`<figure><img class="pixels" src="${pngDataUrl(png)}" width="${width}" height="${height}" alt="${escapeHtml(caption)}"><figcaption>${escapeHtml(caption)}${conflict}</figcaption></figure>`);
  }
  const shown = figures.length
    ? `<h3>${figures.length === d.groups.length ? 'All' : `${figures.length} of ${d.groups.length}`} groups</h3><div class="pairs">${figures.join('')}</div>`
    : '';
  return `<p class="note">Images compared by a SHA-1 hash of their 3072 bytes, then byte for byte.</p>${table}${verdict}${shown}`;
}

export function renderEdaPage(data: EdaDataset, stats: EdaStats, generatedAt: Date = new Date()): string {
  const sections = [
    { heading: 'Overview', body: overviewSection(data, stats) },
    { heading: 'Class balance', body: classSection(stats) },
    { heading: 'Sample images', body: samplesSection(data, stats) },
    { heading: 'Channel statistics', body: channelSection(stats) },
    { heading: 'Pixel histograms', body: histogramSection(stats) },
    { heading: 'Duplicates', body: duplicatesSection(data, stats) },
  ].map((s) => ({ ...s, id: slug(s.heading) }));
  return renderPage({
    title: 'CIFAR-10 data set',
    subtitle: `data: <code>${escapeHtml(data.dir)}</code> (format ${escapeHtml(data.format)}) · ${stats.splits.map((s) => `${count(s.count)} ${escapeHtml(s.name)}`).join(', ')} images · generated ${escapeHtml(generatedAt.toISOString().replace('T', ' ').slice(0, 19))} UTC`,
    sections,
  });
}
