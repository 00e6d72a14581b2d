import { Command } from 'commander';
import path from 'path';
import { readRuns } from '../report/runs';
import { renderTrainingPage } from '../report/training';
import { writeFileAtomic } from '../atomic-file';

export function register(program: Command): void {
  program
    .command('report')
    .description('draw every run\'s loss and accuracy per epoch (train and test) and the experiments tables into one self-contained HTML page; a sweep as a heatmap over two swept parameters, its accuracy against each, and its table')
    .argument('[runs]', 'the runs folder: runs/NAME/metrics.jsonl (+ config.json, summary.json), runs/CONFIG/results.json', 'runs')
    .option('--out <file>', 'the page to write (default: RUNS/report.html)')
    .action((runsDir: string, opts: { out?: string }) => {
      const folder = readRuns(runsDir);
      const file = opts.out ?? path.join(runsDir, 'report.html');
      writeFileAtomic(file, renderTrainingPage(folder));
      for (const run of folder.runs) if (run.damaged) process.stderr.write(`warning: run ${run.name} is damaged, shown without its numbers: ${run.damaged.message}\n`);
      process.stdout.write(`wrote ${file}: ${folder.runs.length} run${folder.runs.length === 1 ? '' : 's'}, ${folder.results.length} experiments table${folder.results.length === 1 ? '' : 's'}${folder.sweeps.length ? `, ${folder.sweeps.length} sweep${folder.sweeps.length === 1 ? '' : 's'}` : ''}\n`);
    });
}
