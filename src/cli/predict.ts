import { Command } from 'commander';
import { ConfigError } from '../train/config';
import { deviceFor } from '../train/run';
import { predictImages, prepareImage, type Prediction } from '../predict/predict';
import { loadTrainedModel } from '../predict/trained-model';
import { usageError } from './train';

const percent = (p: number) => `${(100 * p).toFixed(2)}%`;

function line(p: Prediction): string {
  return `${p.file} (${p.width}x${p.height} ${p.format.toUpperCase()}): ${p.top.map((t) => `${t.class} ${percent(t.probability)}`).join(', ')}`;
}

// `cudalab predict`: a trained run classifies image files
export function register(program: Command): void {
  program
    .command('predict')
    .description("classify PNG and JPEG images with a trained run: each is resized to 32x32 and normalised as the run's data was")
    .argument('<images...>', 'PNG or JPEG files, any size (grayscale, alpha and palette images too)')
    .requiredOption('--run <dir>', 'the run directory (runs/NAME)')
    .option('--checkpoint <epoch|file>', "the weights to use: an epoch's checkpoint or a .safetensors file (default: the run's last checkpoint)")
    .option('--top <k>', 'how many classes to show per image', '3')
    .option('--json', 'print JSON on stdout: every class probability and the logits of each image')
    .option('--device <device>', 'auto, cpu or cuda', 'cpu')
    .addHelpText(
      'after',
      `
Examples:
  $ cudalab predict --run runs/seedcnn-lr0.001-b64-s0 cat.jpg ship.png
  $ cudalab predict --run runs/airbench94 --top 10 --json photos/*.jpg`,
    )
    .exitOverride()
    .action(async (images: string[], opts: { run: string; checkpoint?: string; top: string; json?: boolean; device: string }, cmd: Command) => {
      const top = Number(opts.top);
      if (!/^\d+$/.test(opts.top) || top < 1) usageError(cmd, `--top must be an integer from 1, got "${opts.top}"`);
      if (!['auto', 'cpu', 'cuda'].includes(opts.device)) usageError(cmd, `--device must be one of auto, cpu, cuda, got "${opts.device}"`);
      let trained;
      try {
        // the images first: a file that is no image is reported before the model is built
        const prepared = images.map((f) => prepareImage(f));
        trained = await loadTrainedModel(opts.run, { checkpoint: opts.checkpoint, device: deviceFor(opts.device as 'auto' | 'cpu' | 'cuda') });
        const predictions = predictImages(trained.model, prepared, trained.config.normalization, trained.classes, top);
        if (opts.json) {
          const out = {
            run: opts.run,
            model: trained.config.model,
            weights: trained.weightsFile,
            epoch: trained.epoch,
            classes: trained.classes,
            normalization: trained.config.normalization,
            images: predictions,
          };
          process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        } else {
          process.stderr.write(`${trained.config.model} from ${trained.weightsFile}\n`);
          for (const p of predictions) process.stdout.write(line(p) + '\n');
        }
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      } finally {
        trained?.model.dispose();
      }
    });
}
