// the pages as a person sees them: opened from disk in headless chromium, every
// image must decode, every chart must have a size, the console must stay
// quiet and no request may leave the page (they are self-contained).
// set CUDALAB_SCREENSHOTS=DIR to keep a full-page screenshot of each.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { computeEdaStats, renderEdaPage } from '../../src/report/eda';
import { readRuns } from '../../src/report/runs';
import { renderTrainingPage } from '../../src/report/training';
import { makeDataSet } from './synthetic-data';
import { writeFakeRuns } from './fake-runs';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface PageCheck {
  images: Array<{ alt: string; complete: boolean; naturalWidth: number; naturalHeight: number }>;
  charts: Array<{ title: string; width: number; height: number; contentWidth: number; contentHeight: number }>;
  consoleErrors: string[];
  requests: string[];
  title: string;
}

describe.skipIf(!hasChromium)(`pages in headless chromium${hasChromium ? '' : ` (skipped: ${CHROMIUM} is not installed; scripts/ci-packages.sh installs it)`}`, () => {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-browser-'));
  let context: BrowserContext;
  const pages: Record<string, string> = {};

  beforeAll(async () => {
    const data = makeDataSet();
    pages.eda = path.join(temp, 'eda', 'index.html');
    fs.mkdirSync(path.dirname(pages.eda));
    fs.writeFileSync(pages.eda, renderEdaPage(data, computeEdaStats(data)));
    pages.report = path.join(temp, 'report.html');
    fs.writeFileSync(pages.report, renderTrainingPage(readRuns(writeFakeRuns(temp))));
    const { chromium } = await import('playwright-core');
    // a fresh profile each time: nothing cached, nothing remembered
    context = await chromium.launchPersistentContext(path.join(temp, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    await context?.close();
    fs.rmSync(temp, { recursive: true, force: true });
  });

  async function open(file: string, screenshot: string): Promise<PageCheck> {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = `file://${file}`;
    await page.goto(url, { waitUntil: 'load' });
    const found = await page.evaluate(() => ({
      title: document.title,
      images: Array.from(document.images).map((img) => ({ alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight })),
      charts: Array.from(document.querySelectorAll('svg.chart')).map((svg) => {
        const box = svg.getBoundingClientRect();
        const content = (svg as SVGSVGElement).getBBox();
        return { title: svg.querySelector('title')?.textContent ?? '', width: box.width, height: box.height, contentWidth: content.width, contentHeight: content.height };
      }),
    }));
    const dir = process.env.CUDALAB_SCREENSHOTS;
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, screenshot), fullPage: true });
    }
    await page.close();
    return { ...found, consoleErrors, requests: requests.filter((r) => r !== url) };
  }

  function expectRendered(check: PageCheck): void {
    for (const img of check.images) {
      expect(img.complete, `image "${img.alt}" finished loading`).toBe(true);
      expect(img.naturalWidth, `image "${img.alt}" decoded`).toBeGreaterThan(0);
      expect(img.naturalHeight, `image "${img.alt}" decoded`).toBeGreaterThan(0);
    }
    for (const c of check.charts) {
      expect(c.width * c.height, `chart "${c.title}" has a size`).toBeGreaterThan(0);
      expect(c.contentWidth * c.contentHeight, `chart "${c.title}" drew something`).toBeGreaterThan(0);
    }
    expect(check.consoleErrors).toEqual([]);
    expect(check.requests).toEqual([]);
  }

  it('eda page: every sample and duplicate image decodes, every chart renders, no network', async () => {
    const check = await open(pages.eda, 'eda.png');
    expect(check.title).toBe('CIFAR-10 data set');
    expect(check.images).toHaveLength(10 + 4);
    // the class rows are 10 images at 2x with 2 px gaps; the pairs 2 images at 3x with 3 px gaps
    expect(check.images[0].naturalWidth).toBe(2 + 10 * (64 + 2));
    expect(check.images[10].naturalWidth).toBe(3 + 2 * (96 + 3));
    expect(check.charts).toHaveLength(4);
    expectRendered(check);
  });

  it('training page: every curve and table chart renders, no network', async () => {
    const check = await open(pages.report, 'report.png');
    expect(check.title).toBe('Training runs');
    expect(check.images).toHaveLength(0);
    expect(check.charts).toHaveLength(13);
    expectRendered(check);
  });
});
