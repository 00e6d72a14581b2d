import { Command, InvalidArgumentError } from 'commander';
import path from 'path';
import { loadCifar10 } from '../data/cifar10';
import { computeEdaStats, renderEdaPage } from '../report/eda';
import { TerminalProgress } from '../report/progress';
import { writeFileAtomic } from '../atomic-file';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError(`expected an integer from 1 to 100, got '${v}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command('eda')
    .description('explore the data set: class counts per split, sample images per class, per-channel mean/std and histograms, exact duplicate images; writes one self-contained HTML page')
    .option('--data <dir>', 'the data folder (holding cifar-10-batches-py/ or -bin/), or a batches folder itself', 'data')
    .option('--out <dir>', 'where index.html goes', path.join('reports', 'eda'))
    .option('--samples <n>', 'sample images shown per class', positiveInt, 10)
    .action(async (opts: { data: string; out: string; samples: number }) => {
      const progress = new TerminalProgress(process.stderr);
      let file: string;
      let stats: ReturnType<typeof computeEdaStats>;
      try {
        progress.start(`loading ${opts.data}`, 0);
        const data = await loadCifar10(opts.data);
        progress.end(`${data.format} format, ${data.train.count} train + ${data.test.count} test images`);
        stats = computeEdaStats(data, { samplesPerClass: opts.samples, progress });
        progress.start('writing the page', 0);
        file = path.join(opts.out, 'index.html');
        const html = renderEdaPage(data, stats);
        writeFileAtomic(file, html);
        progress.end(`${(html.length / 1024).toFixed(0)} KiB`);
      } catch (err) {
        progress.clear();
        throw err;
      }
      const d = stats.duplicates;
      process.stdout.write(
        `wrote ${file}\n`
        + `duplicates: ${d.extraCopies.train} extra copies within train, ${d.extraCopies.test} within test, `
        + `${d.imagesAcross.test} test images also in train\n`,
      );
    });
}
