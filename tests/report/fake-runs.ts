// a runs folder as `cudalab train` and `cudalab experiments` leave it, written
// by the test: input for the report, with numbers that follow a plausible curve
import fs from 'fs';
import path from 'path';

interface RunSpec { lr: number; batch: number; epochs: number; rate: number; nanAtEpoch?: number; finished?: boolean }

function metricsRows(spec: RunSpec) {
  const rows = [];
  for (let epoch = 1; epoch <= spec.epochs; epoch++) {
    const broken = spec.nanAtEpoch !== undefined && epoch >= spec.nanAtEpoch;
    const trainLoss = 2.3 * Math.exp(-spec.rate * epoch) + 0.4;
    rows.push({
      epoch,
      train_loss: broken ? null : +trainLoss.toFixed(4),
      train_accuracy: broken ? 0.1 : +(0.9 - 0.8 * Math.exp(-spec.rate * epoch)).toFixed(4),
      test_loss: broken ? null : +(trainLoss + 0.05 * epoch).toFixed(4),
      test_accuracy: broken ? 0.1 : +(0.8 - 0.7 * Math.exp(-spec.rate * epoch)).toFixed(4),
      seconds: 20 + epoch / 10,
      images_per_second: 2400 - epoch,
      eval_seconds: 1.5,
      nan_at: broken && epoch === spec.nanAtEpoch ? { epoch, step: 120 } : null,
    });
  }
  return rows;
}

export function writeRun(dir: string, name: string, spec: RunSpec): { test_accuracy: number; seconds_per_epoch: number; nan: { epoch: number; step: number } | null } {
  fs.mkdirSync(dir, { recursive: true });
  const config = { name, model: 'seedcnn', lr: spec.lr, batch: spec.batch, epochs: spec.epochs, seed: 0, device: 'cpu', data: 'data', limit: null, optimizer: 'adam', augment: false };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const rows = metricsRows(spec);
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const last = rows[rows.length - 1];
  const summary = {
    name, model: 'seedcnn', device: 'cpu', lr: spec.lr, batch: spec.batch, epochs: rows,
    test_accuracy: last.test_accuracy, seconds_per_epoch: rows.reduce((s, r) => s + r.seconds, 0) / rows.length,
    nan: rows.find((r) => r.nan_at)?.nan_at ?? null,
  };
  if (spec.finished !== false) fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  return summary;
}

// runs/baseline (a finished run), runs/partial (still going: metrics, no
// summary), runs/seed/{exp1,exp2,exp3} with runs/seed/results.json; exp3 diverges
export function writeFakeRuns(root: string): string {
  const runs = path.join(root, 'runs');
  writeRun(path.join(runs, 'baseline'), 'baseline', { lr: 0.001, batch: 64, epochs: 6, rate: 0.5 });
  writeRun(path.join(runs, 'partial'), 'partial', { lr: 0.0005, batch: 32, epochs: 2, rate: 0.4, finished: false });
  const specs: Array<[string, RunSpec]> = [
    ['exp1', { lr: 0.001, batch: 64, epochs: 5, rate: 0.6 }],
    ['exp2', { lr: 0.01, batch: 128, epochs: 5, rate: 0.9 }],
    ['exp3', { lr: 0.1, batch: 64, epochs: 5, rate: 0.3, nanAtEpoch: 3 }],
  ];
  const results = specs.map(([name, spec]) => {
    const dir = path.join(runs, 'seed', name);
    const s = writeRun(dir, name, spec);
    return { name, lr: spec.lr, batch: spec.batch, epochs: spec.epochs, model: 'seedcnn', seed: 0, device: 'cpu', test_accuracy: s.test_accuracy, seconds_per_epoch: s.seconds_per_epoch, nan: s.nan, run: dir };
  });
  fs.writeFileSync(path.join(runs, 'seed', 'results.json'), JSON.stringify(results, null, 2));
  return runs;
}
