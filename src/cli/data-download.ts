import { Command } from 'commander';
import { findCifar10 } from '../data/cifar10';
import { CIFAR10_MD5, CIFAR10_URL, DownloadProgress, downloadCifar10 } from '../data/download';

// `cudalab data download`: the official CIFAR-10 archive into the data folder,
// md5-checked, with a progress bar on a terminal and plain lines elsewhere

const MB = 1024 * 1024;

function mb(n: number): string {
  return `${(n / MB).toFixed(1)} MB`;
}

/** renders progress to `out`: a bar redrawn in place on a TTY, a line per 10% otherwise */
export function progressPrinter(out: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown }): {
  update(p: DownloadProgress): void;
  finish(): void;
} {
  const tty = Boolean(out.isTTY);
  const start = Date.now();
  let lastDraw = 0;
  let lastStep = -1;
  let drawn = false;
  let phase: DownloadProgress['phase'] = 'download';
  const endLine = () => {
    if (drawn) out.write('\n');
    drawn = false;
  };
  return {
    update(p) {
      if (p.phase !== phase) {
        endLine();
        phase = p.phase;
        out.write(p.phase === 'verify' ? 'checking md5\n' : 'extracting\n');
        return;
      }
      if (p.phase !== 'download') return;
      const now = Date.now();
      const seconds = Math.max((now - start) / 1000, 1e-3);
      const rate = `${mb(p.received / seconds)}/s`;
      if (tty) {
        if (now - lastDraw < 100 && p.received !== p.total) return;
        lastDraw = now;
        const width = 30;
        const frac = p.total ? Math.min(p.received / p.total, 1) : 0;
        const bar = p.total ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
        const of = p.total ? ` of ${mb(p.total)}` : '';
        out.write(`\r${bar}${mb(p.received)}${of} ${rate}   `);
        drawn = true;
        return;
      }
      // plain lines: every 10% when the size is known, every 10 MB when not
      const step = p.total ? Math.floor((p.received / p.total) * 10) : Math.floor(p.received / (10 * MB));
      if (step === lastStep) return;
      lastStep = step;
      const pct = p.total ? ` (${Math.floor((p.received / p.total) * 100)}%)` : '';
      out.write(`downloaded ${mb(p.received)}${p.total ? ` of ${mb(p.total)}` : ''}${pct} ${rate}\n`);
    },
    finish: endLine,
  };
}

export function registerDataDownload(data: Command): void {
  data
    .command('download')
    .description(
      'download CIFAR-10 (python version) into DIR/cifar-10-batches-py, checking its md5 before anything is kept; ' +
        'does nothing when the data set is already there',
    )
    .option('--url <url>', 'where to get the .tar.gz archive', CIFAR10_URL)
    .option('--md5 <hex>', 'the md5 the archive must have', CIFAR10_MD5)
    .option('--dir <dir>', 'the data folder', 'data')
    .option('--timeout <seconds>', 'give up when no data arrives for this long', '60')
    .action(async (opts: { url: string; md5: string; dir: string; timeout: string }) => {
      const timeout = Number(opts.timeout);
      if (!(timeout > 0)) throw new Error(`--timeout: expected a number of seconds > 0, got '${opts.timeout}'`);
      const progress = progressPrinter(process.stderr);
      // ctrl-c stops the transfer; the download removes its temporaries before we exit
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const present = findCifar10(opts.dir);
        if (present) {
          process.stdout.write(`CIFAR-10 is already in ${present.path}; nothing to do\n`);
          return;
        }
        process.stdout.write(`getting ${opts.url}\n`);
        const result = await downloadCifar10(opts.dir, {
          url: opts.url,
          md5: opts.md5,
          timeoutMs: timeout * 1000,
          signal: abort.signal,
          onProgress: (p) => progress.update(p),
        });
        progress.finish();
        if (result.alreadyPresent) {
          process.stdout.write(`CIFAR-10 is already in ${result.path}; nothing to do\n`);
        } else {
          process.stdout.write(`CIFAR-10 is in ${result.path} (${mb(result.bytes ?? 0)} archive, md5 ${result.md5} ok)\n`);
        }
      } catch (err) {
        progress.finish();
        if (!abort.signal.aborted) throw err;
        process.stderr.write('cudalab: download interrupted; nothing was kept\n');
        process.exitCode = 130;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
