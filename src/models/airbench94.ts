// airbench94: the network of KellerJordan/cifar10-airbench's
// legacy/airbench94.py (94% on CIFAR-10 in a few seconds on a GPU), layer for
// layer, with PyTorch's names:
//   0 a 2x2 whitening conv 3->24 with bias (its weight frozen, set from the
//     training images' patch covariance), 1 GELU,
//   2, 3, 4 a ConvGroup each (64, 256, 256 channels),
//   5 MaxPool2d(3), 6 Flatten, 7 Linear(256->10, no bias), 8 Mul(1/9).
// a ConvGroup is conv1 (3x3, same padding, no bias), pool (2), norm1, GELU,
// conv2, norm2, GELU. its batch norms have eps 1e-12, momentum 0.4 (airbench
// writes 0.6, its 1 - momentum) and a weight frozen at 1; only the bias trains.
// every conv starts as PyTorch's default with its first in_channels filters
// replaced by identity (dirac) filters, and a zero bias.
import { CudalabError } from '../errors';
import { native } from '../native';
import { Tensor, formatShape } from '../tensor';
import { BatchNorm2d, Conv2d, Flatten, GELU, Linear, MaxPool2d, Module, Mul, Sequential } from '../nn';
import { diracInit, zeroInit } from '../nn/init';
import { whiteningFilters } from '../nn/whitening';
import type { InitFromImages, ModelInit } from './context';

const WIDTHS = [64, 256, 256];
const BATCHNORM = { eps: 1e-12, momentum: 0.4 };
const WHITEN_KERNEL = 2;
const WHITEN_WIDTH = 2 * 3 * WHITEN_KERNEL * WHITEN_KERNEL;
const SCALING_FACTOR = 1 / 9;

/** airbench94 whitens with the patches of the first 5,000 (normalised, un-augmented) training images */
export const WHITENING_IMAGES = 5000;

/** airbench's Conv: PyTorch's default init, then identity filters for the first in_channels outputs, bias 0 */
function airbenchConv(inC: number, outC: number, kernel: number, padding: number, bias: boolean, init: ModelInit): Conv2d {
  const conv = new Conv2d(inC, outC, kernel, { padding, bias, generator: init.generator, device: init.device });
  if (conv.bias) zeroInit(conv.bias);
  diracInit(conv.weight, Math.min(inC, outC));
  return conv;
}

/** airbench's BatchNorm: weight frozen at 1, bias trained */
function airbenchNorm(channels: number, init: ModelInit): BatchNorm2d {
  const norm = new BatchNorm2d(channels, { ...BATCHNORM, device: init.device });
  if (norm.weight) norm.weight.requiresGrad = false;
  return norm;
}

export class ConvGroup extends Module {
  readonly conv1: Conv2d;
  readonly pool: MaxPool2d;
  readonly norm1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly norm2: BatchNorm2d;
  readonly activ: GELU;

  constructor(channelsIn: number, channelsOut: number, init: ModelInit) {
    super();
    this.conv1 = airbenchConv(channelsIn, channelsOut, 3, 1, false, init);
    this.pool = new MaxPool2d(2);
    this.norm1 = airbenchNorm(channelsOut, init);
    this.conv2 = airbenchConv(channelsOut, channelsOut, 3, 1, false, init);
    this.norm2 = airbenchNorm(channelsOut, init);
    this.activ = new GELU();
    // PyTorch's registration order, which is the state dict's
    this.registerModule('conv1', this.conv1);
    this.registerModule('pool', this.pool);
    this.registerModule('norm1', this.norm1);
    this.registerModule('conv2', this.conv2);
    this.registerModule('norm2', this.norm2);
    this.registerModule('activ', this.activ);
  }

  forward(x: Tensor): Tensor {
    let y = this.activ.forward(this.norm1.forward(this.pool.forward(this.conv1.forward(x))));
    y = this.activ.forward(this.norm2.forward(this.conv2.forward(y)));
    return y;
  }
}

export class Airbench94 extends Sequential implements InitFromImages {
  readonly whiten: Conv2d;

  constructor(init: ModelInit) {
    const whiten = airbenchConv(3, WHITEN_WIDTH, WHITEN_KERNEL, 0, true, init);
    super(
      whiten,
      new GELU(),
      new ConvGroup(WHITEN_WIDTH, WIDTHS[0], init),
      new ConvGroup(WIDTHS[0], WIDTHS[1], init),
      new ConvGroup(WIDTHS[1], WIDTHS[2], init),
      new MaxPool2d(3),
      new Flatten(),
      new Linear(WIDTHS[2], 10, { bias: false, generator: init.generator, device: init.device }),
      new Mul(SCALING_FACTOR),
    );
    this.whiten = whiten;
    whiten.weight.requiresGrad = false;
  }

  /** the number of training images initFromImages wants (it uses all it is given) */
  get initImages(): number {
    return WHITENING_IMAGES;
  }

  /**
   * sets the whitening conv's filters from normalised, un-augmented training
   * images [N, 3, H, W] (airbench94 gives it the first 5,000): the
   * eigenvectors of their 2x2 patch covariance, scaled, and their negatives
   */
  initFromImages(images: Tensor): void {
    if (images.shape.length !== 4 || images.shape[1] !== 3 || images.dtype !== 'float32') {
      throw new CudalabError('ERR_SHAPE', `airbench94 whitening init: expected float32 images [N, 3, H, W], got ${images.dtype} ${formatShape(images.shape)}`);
    }
    const filters = whiteningFilters(images.toArray(), images.shape, WHITEN_KERNEL);
    native().write(this.whiten.weight.storage('airbench94 whitening init', 'weight'), filters);
  }
}

/**
 * airbench94's parameters as PyTorch's named_parameters() lists them, [name,
 * shape, trained], without building the model (the whitening weight and the
 * batch norm weights are frozen)
 */
export function airbench94Parameters(): Array<[string, number[], boolean]> {
  const out: Array<[string, number[], boolean]> = [
    ['0.weight', [WHITEN_WIDTH, 3, WHITEN_KERNEL, WHITEN_KERNEL], false],
    ['0.bias', [WHITEN_WIDTH], true],
  ];
  let inC = WHITEN_WIDTH;
  WIDTHS.forEach((c, i) => {
    const pre = String(i + 2);
    out.push(
      [`${pre}.conv1.weight`, [c, inC, 3, 3], true],
      [`${pre}.norm1.weight`, [c], false],
      [`${pre}.norm1.bias`, [c], true],
      [`${pre}.conv2.weight`, [c, c, 3, 3], true],
      [`${pre}.norm2.weight`, [c], false],
      [`${pre}.norm2.bias`, [c], true],
    );
    inC = c;
  });
  out.push(['7.weight', [10, WIDTHS[2]], true]);
  return out;
}
