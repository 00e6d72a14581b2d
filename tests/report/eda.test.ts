import fs from 'fs';
import os from 'os';
import path from 'path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { computeEdaStats, renderEdaPage } from '../../src/report/eda';
import { register } from '../../src/cli/eda';
import { makeDataSet, writeBinLayout } from './synthetic-data';

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-eda-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'cifar10-tiny');
const haveFixture = fs.existsSync(FIXTURE);

async function cli(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  register(program);
  await program.parseAsync(['node', 'cudalab', ...args]);
}

describe('data set statistics', () => {
  const data = makeDataSet();
  const stats = computeEdaStats(data, { samplesPerClass: 4 });

  it('counts classes per split and picks the first images of each class', () => {
    expect(stats.splits.map((s) => s.name)).toEqual(['train', 'test']);
    // train 5 became a copy of train 0, labelled 0
    expect(stats.splits[0].classCounts).toEqual([21, 20, 20, 20, 20, 19, 20, 20, 20, 20]);
    expect(stats.samples[0]).toEqual([0, 5, 10, 20]);
    // test 3 became a copy of test 1 (class 1), test 7 of train 12 (class 2), test 9 of train 20 labelled 1
    expect(stats.splits[1].classCounts).toEqual([5, 7, 6, 4, 5, 5, 5, 4, 5, 4]);
    expect(stats.samples[3]).toEqual([3, 13, 23, 33]);
    for (const [c, row] of stats.samples.entries()) for (const i of row) expect(data.train.labels[i]).toBe(c);
  });

  it('gives the same mean for all splits together as a direct pass', () => {
    let sum = 0;
    for (const s of [data.train, data.test]) for (let i = 0; i < s.count; i++) for (let p = 0; p < 1024; p++) sum += s.images[i * 3072 + 1024 + p];
    expect(stats.combined.mean[1]).toBeCloseTo(sum / (250 * 1024), 9);
  });

  it('finds the planted duplicates', () => {
    expect(stats.duplicates.groups).toHaveLength(4);
    expect(stats.duplicates.imagesAcross.test).toBe(2);
  });
});

describe('the data set page', () => {
  const data = makeDataSet();
  const html = renderEdaPage(data, computeEdaStats(data));

  it('has every section, a row of samples per class and the duplicate pairs', () => {
    for (const h of ['Overview', 'Class balance', 'Sample images', 'Channel statistics', 'Pixel histograms', 'Duplicates']) expect(html).toContain(`<h2>${h}</h2>`);
    // 10 sample rows + 4 duplicate pairs
    expect(html.match(/<img /g)).toHaveLength(14);
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(14);
    // class bar chart + 3 channel histograms
    expect(html.match(/<svg class="chart"/g)).toHaveLength(4);
    expect(html).toContain('train #12 (bird) = test #7 (bird)');
    expect(html).toContain('labels differ');
    expect(html).toContain('2 test images also appear in train');
  });

  it('loads nothing from the network', () => {
    expect(html).not.toMatch(/(src|href)="(https?:|\/\/)/);
    expect(html).toContain("default-src 'none'");
  });

  it('shows each channel mean on both scales', () => {
    const stats = computeEdaStats(data);
    const m = stats.splits[0].moments;
    expect(html).toContain(`<td class="num">${m.mean[0].toFixed(2)}</td>`);
    expect(html).toContain(`<td class="num">${(m.mean[0] / 255).toFixed(4)}</td>`);
  });
});

describe('cudalab eda', () => {
  it('loads a data folder in the binary layout and writes OUT/index.html', async () => {
    const data = makeDataSet();
    const root = writeBinLayout(data, path.join(temp, 'bin-data'));
    const out = path.join(temp, 'eda-out');
    await cli(['eda', '--data', root, '--out', out, '--samples', '3']);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).toContain('cifar-10-batches-bin');
    expect(html).toContain('The first 3 train images of each class');
    expect(html).toContain('2 test images also appear in train');
    expect(fs.readdirSync(out)).toEqual(['index.html']);
  });

  it('fails with the data folder named when there is no data set', async () => {
    const missing = path.join(temp, 'no-data');
    await expect(cli(['eda', '--data', missing, '--out', path.join(temp, 'never')])).rejects.toThrow(missing);
    expect(fs.existsSync(path.join(temp, 'never'))).toBe(false);
  });

  it.skipIf(!haveFixture)('reads the committed fixture (tests/fixtures/cifar10-tiny)', async () => {
    const out = path.join(temp, 'fixture-out');
    await cli(['eda', '--data', FIXTURE, '--out', out]);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html.match(/<svg class="chart"/g)).toHaveLength(4);
    expect(html).toContain('<h2>Sample images</h2>');
  });
});
