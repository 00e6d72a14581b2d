import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { progressPrinter, registerDataDownload } from '../../src/cli/data-download';
import { extractTarGz } from '../../src/data/archive';
import { loadCifar10 } from '../../src/data/cifar10';
import { DownloadProgress, downloadCifar10, ensureCifar10 } from '../../src/data/download';
import { DataError } from '../../src/data/errors';
import { FIXTURE, folderEntries, tarGz, tempDir } from './writers';
import { rejects } from './expect-data-error';

const archive = tarGz(folderEntries(path.join(FIXTURE, 'cifar-10-batches-py'), 'cifar-10-batches-py'));
const md5 = crypto.createHash('md5').update(archive).digest('hex');
const binArchive = tarGz(folderEntries(path.join(FIXTURE, 'cifar-10-batches-bin'), 'cifar-10-batches-bin'));

// routes of the local server; `hits` counts requests per path
const hits = new Map<string, number>();
let server: http.Server;
let base = '';
const stalled: http.ServerResponse[] = [];

function serveArchive(res: http.ServerResponse, body: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length });
  res.end(body);
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    if (url === '/cifar.tar.gz') return serveArchive(res, archive);
    if (url === '/bin.tar.gz') return serveArchive(res, binArchive);
    if (url === '/moved') {
      res.writeHead(302, { location: '/cifar.tar.gz' });
      return res.end();
    }
    if (url === '/500') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('oops');
    }
    if (url === '/cut') {
      // promises the whole archive, sends a third, hangs up
      res.writeHead(200, { 'content-length': archive.length });
      res.write(archive.subarray(0, Math.floor(archive.length / 3)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (url === '/stall') {
      res.writeHead(200, { 'content-length': archive.length });
      res.write(archive.subarray(0, 1000));
      stalled.push(res);
      return;
    }
    if (url === '/slow') {
      // a chunk every 20 ms: long enough to interrupt
      res.writeHead(200, { 'content-length': archive.length });
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= archive.length) return clearInterval(timer);
        res.write(archive.subarray(at, at + 4096));
        at += 4096;
      }, 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (url === '/not-gzip') return serveArchive(res, Buffer.from('this is not an archive at all'));
    if (url === '/escape.tar.gz') return serveArchive(res, tarGz([{ name: '../escaped.txt', data: Buffer.from('x') }]));
    if (url === '/empty.tar.gz') return serveArchive(res, tarGz([{ name: 'readme.txt', data: Buffer.from('no data here') }]));
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of stalled) r.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup) f();
  cleanup = [];
});

function scratch(): string {
  const t = tempDir('cudalab-dl-');
  cleanup.push(t.remove);
  return t.dir;
}

const md5Of = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');

async function expectSameAsFixture(dir: string): Promise<void> {
  const got = await loadCifar10(dir);
  const want = await loadCifar10(path.join(FIXTURE, 'cifar-10-batches-py'));
  expect(got.train.count).toBe(100);
  expect(Buffer.compare(Buffer.from(got.train.images), Buffer.from(want.train.images))).toBe(0);
  expect(Array.from(got.test.labels)).toEqual(Array.from(want.test.labels));
}

describe('downloadCifar10', () => {
  it('downloads, checks the md5, extracts into DIR/cifar-10-batches-py and leaves nothing else', async () => {
    const dir = path.join(scratch(), 'data');
    const events: DownloadProgress[] = [];
    const r = await downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5, onProgress: (p) => events.push(p) });
    expect(r).toEqual({ path: path.join(dir, 'cifar-10-batches-py'), alreadyPresent: false, md5, bytes: archive.length });
    expect(fs.readdirSync(dir)).toEqual(['cifar-10-batches-py']);
    await expectSameAsFixture(dir);
    const downloads = events.filter((e) => e.phase === 'download');
    expect(downloads.length).toBeGreaterThan(0);
    expect(downloads[downloads.length - 1]).toEqual({ phase: 'download', received: archive.length, total: archive.length });
    expect(events.map((e) => e.phase).filter((p) => p !== 'download')).toEqual(['verify', 'extract']);
  });

  it('already there: nothing is fetched', async () => {
    const dir = scratch();
    fs.cpSync(path.join(FIXTURE, 'cifar-10-batches-bin'), path.join(dir, 'cifar-10-batches-bin'), { recursive: true });
    const before = hits.get('/cifar.tar.gz') ?? 0;
    const r = await downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5 });
    expect(r).toEqual({ path: path.join(dir, 'cifar-10-batches-bin'), alreadyPresent: true });
    expect(hits.get('/cifar.tar.gz') ?? 0).toBe(before);
  });

  it('follows redirects; takes the binary layout too', async () => {
    const dir = scratch();
    expect((await downloadCifar10(dir, { url: `${base}/moved`, md5 })).path).toBe(path.join(dir, 'cifar-10-batches-py'));
    const dir2 = scratch();
    const r = await downloadCifar10(dir2, { url: `${base}/bin.tar.gz`, md5: md5Of(binArchive) });
    expect(r.path).toBe(path.join(dir2, 'cifar-10-batches-bin'));
    expect((await loadCifar10(dir2)).format).toBe('bin');
  });

  it('wrong checksum: ERR_CHECKSUM, nothing kept; the rerun with the right one completes', async () => {
    const dir = scratch();
    const err = await rejects(downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5: '0'.repeat(32) }));
    expect(err.code).toBe('ERR_CHECKSUM');
    expect(err.message).toContain(`got md5 ${md5}`);
    expect(err.file).toBe(`${base}/cifar.tar.gz`);
    expect(fs.readdirSync(dir)).toEqual([]);
    await downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5 });
    expect(fs.readdirSync(dir)).toEqual(['cifar-10-batches-py']);
  });

  it('connection cut mid-file: ERR_DOWNLOAD saying how far it got, nothing kept; the rerun completes', async () => {
    const dir = scratch();
    const err = await rejects(downloadCifar10(dir, { url: `${base}/cut`, md5 }));
    expect(err.code).toBe('ERR_DOWNLOAD');
    expect(err.message).toMatch(new RegExp(`expected ${archive.length} bytes, got the connection closed after \\d+ bytes`));
    expect(fs.readdirSync(dir)).toEqual([]);
    await downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5 });
    await expectSameAsFixture(dir);
  });

  it('HTTP 500: ERR_DOWNLOAD with the status, nothing kept', async () => {
    const dir = scratch();
    const err = await rejects(downloadCifar10(dir, { url: `${base}/500`, md5 }));
    expect(err.code).toBe('ERR_DOWNLOAD');
    expect(err.message).toContain('expected HTTP 200, got HTTP 500');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a server that stops sending: timed out, nothing kept', async () => {
    const dir = scratch();
    const err = await rejects(downloadCifar10(dir, { url: `${base}/stall`, md5, timeoutMs: 300 }));
    expect(err.code).toBe('ERR_DOWNLOAD');
    expect(err.message).toContain('timed out');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('nobody listening: a connection error, nothing kept', async () => {
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const dir = scratch();
    const err = await rejects(downloadCifar10(dir, { url: `http://127.0.0.1:${port}/x.tar.gz`, md5 }));
    expect(err.message).toContain('ECONNREFUSED');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('an interrupt (abort signal) mid-transfer: nothing kept', async () => {
    const dir = scratch();
    const abort = new AbortController();
    const err = await rejects(
      downloadCifar10(dir, {
        url: `${base}/slow`,
        md5,
        signal: abort.signal,
        onProgress: (p) => {
          if (p.received > 8000) abort.abort();
        },
      }),
    );
    expect(err.message).toContain('interrupt');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('archives that are not gzip, escape the folder or hold no CIFAR-10: refused, nothing kept', async () => {
    for (const [route, why] of [
      ['/not-gzip', 'gzip'],
      ['/escape.tar.gz', "'../escaped.txt'"],
      ['/empty.tar.gz', 'an archive holding cifar-10-batches-py/ or cifar-10-batches-bin/'],
    ]) {
      const root = scratch();
      const dir = path.join(root, 'data');
      const body = route === '/not-gzip' ? Buffer.from('this is not an archive at all') : null;
      const sum = body ? md5Of(body) : await fetchMd5(`${base}${route}`);
      const err = await rejects(downloadCifar10(dir, { url: `${base}${route}`, md5: sum }));
      expect(err.message).toContain(why);
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(fs.readdirSync(root)).toEqual(['data']);
    }
  });

  it('a bad --md5 or URL is refused before anything is fetched', async () => {
    const dir = scratch();
    expect((await rejects(downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5: 'abc' }))).message).toContain('32 hex digits');
    expect((await rejects(downloadCifar10(dir, { url: 'ftp://example.org/c.tgz', md5 }))).message).toContain('http or https');
    expect((await rejects(downloadCifar10(dir, { url: 'not a url', md5 }))).message).toContain('valid http');
  });

  it('removes the temporaries of a download whose process is gone, keeps those of live ones', async () => {
    const dir = scratch();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
    fs.writeFileSync(path.join(dir, `.download-${gone}-deadbeef.tar.gz`), 'partial');
    fs.mkdirSync(path.join(dir, `.extract-${gone}-deadbeef`));
    const live = `.download-${process.ppid}-cafe0000.tar.gz`;
    fs.writeFileSync(path.join(dir, live), 'in progress elsewhere');
    await downloadCifar10(dir, { url: `${base}/cifar.tar.gz`, md5 });
    expect(fs.readdirSync(dir).sort()).toEqual([live, 'cifar-10-batches-py'].sort());
  });
});

async function fetchMd5(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const h = crypto.createHash('md5');
      res.on('data', (c) => h.update(c));
      res.on('end', () => resolve(h.digest('hex')));
      res.on('error', reject);
    });
  });
}

describe('ensureCifar10', () => {
  it('returns the folder when it is there', async () => {
    expect(await ensureCifar10(FIXTURE, { download: false })).toBe(path.join(FIXTURE, 'cifar-10-batches-py'));
  });

  it('missing and no download: says how to get it', async () => {
    const dir = scratch();
    const err = await rejects(ensureCifar10(dir, { download: false }));
    expect(err.code).toBe('ERR_DATA_MISSING');
    for (const s of ['cudalab data download', 'cudalab data pull', '--data DIR', dir]) expect(err.message).toContain(s);
  });

  it('a data folder that is a file: the ENOTDIR, not "none"', async () => {
    const file = path.join(scratch(), 'data');
    fs.writeFileSync(file, '');
    for (const download of [false, true]) {
      const err = await rejects(ensureCifar10(file, { download, url: `${base}/cifar.tar.gz`, md5 }));
      expect(err.code).toBe('ERR_DATA_ACCESS');
      expect(err.message).toContain(`${file}: expected a data folder, got a file (ENOTDIR)`);
    }
  });

  it('missing, download fails: the reason and how to get it, nothing kept; then it downloads', async () => {
    const dir = scratch();
    const err = await rejects(ensureCifar10(dir, { download: true, url: `${base}/500`, md5 }));
    expect(err.code).toBe('ERR_DOWNLOAD');
    expect(err.message).toContain('HTTP 500');
    expect(err.message).toContain('cudalab data pull');
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await ensureCifar10(dir, { download: true, url: `${base}/cifar.tar.gz`, md5 })).toBe(path.join(dir, 'cifar-10-batches-py'));
  });
});

describe('extractTarGz', () => {
  const hasTar = spawnSync('tar', ['--version']).status === 0;
  it.skipIf(!hasTar)('reads what the system tar writes (long names, nested folders)', async () => {
    const src = scratch();
    const deep = path.join(src, 'top', 'a'.repeat(60), 'b'.repeat(60));
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(path.join(deep, 'c'.repeat(40) + '.bin'), crypto.randomBytes(70_000));
    fs.writeFileSync(path.join(src, 'top', 'empty'), '');
    const out = path.join(scratch(), 'x.tar.gz');
    expect(spawnSync('tar', ['-czf', out, '-C', src, 'top']).status).toBe(0);
    const dest = scratch();
    const files = await extractTarGz(out, dest);
    expect(files.sort()).toEqual([path.join('top', 'a'.repeat(60), 'b'.repeat(60), 'c'.repeat(40) + '.bin'), path.join('top', 'empty')].sort());
    const rel = path.join('top', 'a'.repeat(60), 'b'.repeat(60), 'c'.repeat(40) + '.bin');
    expect(Buffer.compare(fs.readFileSync(path.join(dest, rel)), fs.readFileSync(path.join(src, rel)))).toBe(0);
  });

  it('a truncated archive is a DataError naming it', async () => {
    const out = path.join(scratch(), 'cut.tar.gz');
    fs.writeFileSync(out, archive.subarray(0, archive.length - 5000));
    const err = await rejects(extractTarGz(out, scratch()));
    expect(err.file).toBe(out);
  });
});

describe('cudalab data download', () => {
  async function cli(args: string[]): Promise<{ out: string; err: string }> {
    const program = new Command().exitOverride();
    registerDataDownload(program.command('data'));
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      await program.parseAsync(['data', 'download', ...args], { from: 'user' });
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    return { out, err };
  }

  it('downloads with plain progress lines off a terminal, then says it is already there', async () => {
    const dir = scratch();
    const first = await cli(['--url', `${base}/cifar.tar.gz`, '--md5', md5, '--dir', dir]);
    expect(first.out).toContain(`CIFAR-10 is in ${path.join(dir, 'cifar-10-batches-py')}`);
    expect(first.out).toContain(`md5 ${md5} ok`);
    expect(first.err).toMatch(/downloaded .* \(100%\)/);
    expect(first.err).toContain('checking md5');
    expect(first.err).not.toContain('\r');
    const again = await cli(['--url', `${base}/cifar.tar.gz`, '--md5', md5, '--dir', dir]);
    expect(again.out).toContain('already in');
  });

  it('on a terminal: one bar redrawn in place', () => {
    let text = '';
    const bar = progressPrinter({ isTTY: true, write: (s: string) => (text += s) });
    for (let r = 0; r <= 10; r++) bar.update({ phase: 'download', received: r * 1024 * 1024, total: 10 * 1024 * 1024 });
    bar.update({ phase: 'verify', received: 10 * 1024 * 1024, total: 10 * 1024 * 1024 });
    bar.finish();
    expect(text.startsWith('\r[')).toBe(true);
    expect(text).toContain('[##############################] 100% 10.0 MB of 10.0 MB');
    expect(text).toContain('\nchecking md5\n');
    expect(text.split('\n')).toHaveLength(3);
  });

  it('a failure is thrown for the program to report, leaving nothing', async () => {
    const dir = scratch();
    await expect(cli(['--url', `${base}/500`, '--md5', md5, '--dir', dir])).rejects.toThrow(/HTTP 500/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
