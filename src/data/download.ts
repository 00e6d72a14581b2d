// getting CIFAR-10 from its official site. the archive streams into a
// temporary file inside the data folder while its md5 is computed; only an
// archive with the expected md5 is extracted, into a temporary folder, and
// the batches folder is renamed into place as the last step. whatever fails
// (HTTP status, cut connection, timeout, checksum, a bad archive, an abort),
// the temporaries are removed, so the data folder holds either the whole
// data set or nothing new, and a rerun starts clean. temporaries carry the
// process id so a rerun also removes those of a process that was killed.

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { extractTarGz } from './archive';
import { cifar10Layout, findCifar10, CIFAR10_FOLDERS } from './cifar10';
import { DataError } from './errors';
import { makeDirectory } from '../make-directory';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz';
export const CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a';

export const HOW_TO_GET_CIFAR10 =
  'get it with `cudalab data download` (from the official site), `cudalab data pull` (from the DVC remote), ' +
  `or point --data DIR at a folder that holds ${CIFAR10_FOLDERS.join('/ or ')}/`;

const MAX_REDIRECTS = 10;
const DEFAULT_TIMEOUT_MS = 60_000;

export interface DownloadProgress {
  phase: 'download' | 'verify' | 'extract';
  /** bytes received so far */
  received: number;
  /** bytes expected (Content-Length), null when the server does not say */
  total: number | null;
}

export interface DownloadOptions {
  url?: string;
  /** expected md5 of the archive, hex */
  md5?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** give up when no byte arrives for this long (connect included) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** the batches folder */
  path: string;
  /** true when it was there already and nothing was downloaded */
  alreadyPresent: boolean;
  /** md5 of what was downloaded */
  md5?: string;
  bytes?: number;
}

/**
 * downloads and extracts CIFAR-10 into `dir` unless it is there already
 * (in either format). returns the batches folder.
 */
export async function downloadCifar10(dir: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const present = findCifar10(dir);
  if (present) return { path: present.path, alreadyPresent: true };
  const url = opts.url ?? CIFAR10_URL;
  const expectedMd5 = (opts.md5 ?? CIFAR10_MD5).toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(expectedMd5)) {
    throw new DataError({ file: '--md5', code: 'ERR_DOWNLOAD', expected: '32 hex digits', got: `'${opts.md5}'` });
  }
  makeDirectory(dir);
  await removeLeftovers(dir);

  const tag = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const archive = path.join(dir, `.download-${tag}.tar.gz`);
  const staging = path.join(dir, `.extract-${tag}`);
  try {
    const got = await fetchToFile(url, archive, opts);
    opts.onProgress?.({ phase: 'verify', received: got.bytes, total: got.bytes });
    if (got.md5 !== expectedMd5) {
      throw new DataError({
        file: url,
        code: 'ERR_CHECKSUM',
        expected: `md5 ${expectedMd5}`,
        got: `md5 ${got.md5} over ${got.bytes} bytes (a damaged or different file; nothing was kept)`,
      });
    }
    opts.onProgress?.({ phase: 'extract', received: got.bytes, total: got.bytes });
    await fs.promises.mkdir(staging);
    await extractTarGz(archive, staging);
    const found = findCifar10(staging);
    if (!found || found.path === staging) {
      throw new DataError({ file: url, expected: `an archive holding ${CIFAR10_FOLDERS.join('/ or ')}/`, got: 'neither' });
    }
    const layout = cifar10Layout(found.format);
    for (const f of layout.files) {
      if (!fs.existsSync(path.join(found.path, f))) {
        throw new DataError({ file: url, expected: `${layout.folder}/${f} in the archive`, got: 'no such entry' });
      }
    }
    const dest = path.join(dir, layout.folder);
    try {
      await fs.promises.rename(found.path, dest);
    } catch (err) {
      // another run may have finished first; what it put there is whole
      const now = findCifar10(dir);
      if (now) return { path: now.path, alreadyPresent: true };
      throw err;
    }
    return { path: dest, alreadyPresent: false, md5: got.md5, bytes: got.bytes };
  } finally {
    await fs.promises.rm(archive, { force: true });
    await fs.promises.rm(staging, { recursive: true, force: true });
  }
}

/**
 * the folder holding CIFAR-10 under `dir`, downloading it first when it is
 * missing and `download` is true. when it stays missing, the DataError says
 * how to get it.
 */
export async function ensureCifar10(
  dir: string,
  opts: { download: boolean } & DownloadOptions,
): Promise<string> {
  const found = findCifar10(dir);
  if (found) return found.path;
  if (!opts.download) {
    throw new DataError({
      file: dir,
      code: 'ERR_DATA_MISSING',
      expected: `CIFAR-10 (${CIFAR10_FOLDERS.join('/ or ')}/)`,
      got: 'none',
      hint: HOW_TO_GET_CIFAR10,
    });
  }
  try {
    return (await downloadCifar10(dir, opts)).path;
  } catch (err) {
    const e = err as Error;
    throw new DataError({
      file: dir,
      code: err instanceof DataError ? err.code : 'ERR_DOWNLOAD',
      expected: 'CIFAR-10, which the download did not bring',
      got: e.message,
      hint: HOW_TO_GET_CIFAR10,
      cause: err,
    });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// temporaries of a download that was killed before it could clean up
async function removeLeftovers(dir: string): Promise<void> {
  for (const name of await fs.promises.readdir(dir)) {
    const m = /^\.(?:download|extract)-(\d+)-[0-9a-f]+/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !alive(pid)) await fs.promises.rm(path.join(dir, name), { recursive: true, force: true });
  }
}

/** streams `url` (following redirects) into the new file `file`; returns its md5 and length */
async function fetchToFile(url: string, file: string, opts: DownloadOptions): Promise<{ md5: string; bytes: number }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let current = url;
  for (let hop = 0; ; hop++) {
    let target: URL;
    try {
      target = new URL(current);
    } catch {
      throw new DataError({ file: current, code: 'ERR_DOWNLOAD', expected: 'a valid http or https URL' });
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new DataError({ file: current, code: 'ERR_DOWNLOAD', expected: 'an http or https URL', got: target.protocol });
    }
    const { req, res, timedOut } = await request(target, timeoutMs, opts.signal);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) {
        throw new DataError({ file: url, code: 'ERR_DOWNLOAD', expected: `at most ${MAX_REDIRECTS} redirects`, got: 'more' });
      }
      current = new URL(res.headers.location, target).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new DataError({ file: current, code: 'ERR_DOWNLOAD', expected: 'HTTP 200', got: `HTTP ${status} ${res.statusMessage ?? ''}`.trim() });
    }
    const lengthHeader = res.headers['content-length'];
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    const hash = crypto.createHash('md5');
    let received = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        received += chunk.length;
        opts.onProgress?.({ phase: 'download', received, total });
        done(null, chunk);
      },
    });
    const cutOff = () =>
      new DataError({
        file: current,
        code: 'ERR_DOWNLOAD',
        expected: total === null ? 'the whole file' : `${total} bytes`,
        got: timedOut()
          ? `no data for ${timeoutMs / 1000} s after ${received} bytes (timed out)`
          : opts.signal?.aborted
            ? `an interrupt after ${received} bytes`
            : `the connection closed after ${received} bytes`,
      });
    try {
      await pipeline(res, meter, fs.createWriteStream(file, { flags: 'wx' }));
    } catch (err) {
      req.destroy();
      const e = err as NodeJS.ErrnoException;
      if (e.syscall === 'open' || e.syscall === 'write') {
        throw new DataError({ file, code: 'ERR_DOWNLOAD', expected: 'a new temporary file to write', got: e.message, cause: err });
      }
      throw cutOff();
    }
    if (total !== null && received !== total) throw cutOff();
    return { md5: hash.digest('hex'), bytes: received };
  }
}

// one GET; resolves with the response head, rejects with a DataError on
// connection errors and timeouts before it
function request(
  url: URL,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; timedOut: () => boolean }> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const get = url.protocol === 'https:' ? https.get : http.get;
    const req = get(url, { headers: { 'user-agent': 'cudalab', accept: '*/*' }, signal }, (res) => {
      resolve({ req, res, timedOut: () => timedOut });
    });
    req.setTimeout(timeoutMs, () => {
      timedOut = true;
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = timedOut
        ? `no answer within ${timeoutMs / 1000} s (timed out)`
        : signal?.aborted
          ? 'an interrupt'
          : `${err.code ?? 'error'}: ${err.message}`;
      reject(new DataError({ file: url.toString(), code: 'ERR_DOWNLOAD', expected: 'a connection that answers', got: why, cause: err }));
    });
  });
}
