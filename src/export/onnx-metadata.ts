// what an exported model's metadata_props tell its user: how to make its
// input from an image (the run's normalisation), what its output means, and
// where it came from. the values are text, lists as JSON.
import type { TrainedModel } from '../predict/trained-model';
import { INPUT_NAME, OUTPUT_NAME } from './onnx';

export function onnxMetadata(trained: TrainedModel): Record<string, string> {
  const { mean, std } = trained.config.normalization;
  return {
    input: `${INPUT_NAME}: float32 [batch, 3, 32, 32], NCHW, channels R, G, B; a pixel p (0..255) of channel c is (p / 255 - mean[c]) / std[c]`,
    input_layout: 'NCHW',
    input_size: '32x32',
    input_channels: 'RGB',
    mean: JSON.stringify(mean),
    std: JSON.stringify(std),
    resize: 'to 32x32: larger images by area averaging (box filter), smaller ones bilinearly, rounded to 8 bits, as cudalab predict does',
    output: `${OUTPUT_NAME}: float32 [batch, classes], the logits; their softmax gives the class probabilities`,
    classes: JSON.stringify(trained.classes),
    model: trained.config.model,
    run: trained.runDir,
    ...(trained.epoch === null ? {} : { epoch: String(trained.epoch) }),
    weights: trained.weightsFile,
  };
}
