import { Command } from 'commander';
import { writeFileAtomic } from '../atomic-file';
import { ConfigError } from '../train/config';
import { OPSET, exportOnnx } from '../export/onnx';
import { onnxMetadata } from '../export/onnx-metadata';
import { loadTrainedModel } from '../predict/trained-model';
import { usageError } from './train';

// `cudalab export`: a trained run as an ONNX file
export function register(program: Command): void {
  program
    .command('export')
    .description(`write a trained run's network as an ONNX model (opset ${OPSET}), to run in onnxruntime and elsewhere`)
    .requiredOption('--run <dir>', 'the run directory (runs/NAME)')
    .requiredOption('--onnx <file>', 'the ONNX file to write')
    .option('--checkpoint <epoch|file>', "the weights to use: an epoch's checkpoint or a .safetensors file (default: the run's last checkpoint)")
    .addHelpText(
      'after',
      `
The graph takes normalised images, float32 [batch, 3, 32, 32] (NCHW, RGB),
and gives the logits [batch, classes]; the file's metadata holds the
normalisation (mean, std per channel) and the class names.

Examples:
  $ cudalab export --run runs/seedcnn-lr0.001-b64-s0 --onnx seedcnn.onnx
  $ cudalab export --run runs/resnet18 --checkpoint 12 --onnx resnet18-epoch12.onnx`,
    )
    .exitOverride()
    .action(async (opts: { run: string; onnx: string; checkpoint?: string }, cmd: Command) => {
      let trained;
      try {
        trained = await loadTrainedModel(opts.run, { checkpoint: opts.checkpoint, device: 'cpu' });
        const bytes = exportOnnx(trained.model, { metadata: onnxMetadata(trained), docString: `${trained.config.model} trained by cudalab (${opts.run})`, producerVersion: trained.config.version });
        writeFileAtomic(opts.onnx, bytes);
        process.stdout.write(`wrote ${opts.onnx}: ${trained.config.model}${trained.epoch === null ? '' : ` after epoch ${trained.epoch}`}, ONNX opset ${OPSET}, ${(bytes.length / 1e6).toFixed(1)} MB\n`);
      } catch (err) {
        if (err instanceof ConfigError) usageError(cmd, err.message);
        throw err;
      } finally {
        trained?.model.dispose();
      }
    });
}
