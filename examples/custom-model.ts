// your own model in your own loop: a small residual net (conv/BN/ReLU blocks, a skip), one
// epoch of SGD with parameter groups and a one-cycle schedule, evaluated, saved as safetensors.
// usage: node custom-model.js [DATA_DIR=data] [OUT=custom-model.safetensors] [LIMIT]
import {
  nn, Tensor, Generator, SGD, DataLoader, HostBatches, CIFAR10_NORMALIZATION, tidy, add, relu, flatten, globalAvgPool2d,
  crossEntropy, native, loadCifar10, groupParameters, scheduleFactor, evaluate, saveWeights, type ScheduleSpec,
} from 'cudalab';

class ConvBN extends nn.Module {
  readonly conv: nn.Conv2d; readonly bn: nn.BatchNorm2d;
  constructor(cin: number, cout: number, generator: Generator) {
    super();
    this.registerModule('conv', (this.conv = new nn.Conv2d(cin, cout, 3, { padding: 1, bias: false, generator })));
    this.registerModule('bn', (this.bn = new nn.BatchNorm2d(cout)));
  }
  forward(x: Tensor): Tensor { return relu(this.bn.forward(this.conv.forward(x))); }
}

export class ResidualNet extends nn.Module {
  readonly stem: ConvBN; readonly pool = new nn.MaxPool2d(2); readonly a: ConvBN; readonly b: ConvBN; readonly head: nn.Linear;
  constructor(generator = new Generator(0)) {
    super();
    this.registerModule('stem', (this.stem = new ConvBN(3, 32, generator)));
    this.registerModule('a', (this.a = new ConvBN(32, 32, generator)));
    this.registerModule('b', (this.b = new ConvBN(32, 32, generator)));
    this.registerModule('head', (this.head = new nn.Linear(32, 10, { generator })));
  }
  forward(x: Tensor): Tensor {
    const h = this.pool.forward(this.stem.forward(x));
    return this.head.forward(flatten(globalAvgPool2d(add(h, this.b.forward(this.a.forward(h)))))); // the skip: h + block(h)
  }
}

async function main([dataDir = 'data', out = 'custom-model.safetensors', limit]: string[]): Promise<void> {
  const device = native().cudaInfo().available ? 'cuda' : 'cpu', data = await loadCifar10(dataDir), generator = new Generator(1);
  const opts = { batchSize: 64, normalization: CIFAR10_NORMALIZATION, limit: limit ? Number(limit) : undefined };
  const train = new HostBatches(new DataLoader(data.train, { ...opts, shuffle: true, generator, augment: { flip: true } }), device);
  const model = new ResidualNet().to(device);
  // batch-norm weights and biases without weight decay: a group of their own
  const groups = groupParameters(model.namedParameters(), [{ match: '\\.bn\\.', weightDecayScale: 0 }], { lr: 0.1, weightDecay: 5e-4 });
  const optimizer = new SGD(groups, { lr: 0.1, momentum: 0.9, nesterov: true });
  const schedule: ScheduleSpec = { kind: 'onecycle', pctStart: 0.25 }, initialLrs = optimizer.paramGroups.map((g) => g.lr);
  for (const batch of train) {
    optimizer.paramGroups.forEach((g, i) => (g.lr = initialLrs[i] * scheduleFactor(schedule, batch.index, train.batches)));
    tidy(() => {
      optimizer.zeroGrad();
      crossEntropy(model.forward(batch.images), batch.labels).backward();
      optimizer.step();
    });
    batch.images.dispose();
    batch.labels.dispose();
  }
  const test = evaluate(model, new HostBatches(new DataLoader(data.test, { ...opts, shuffle: false }), device), device);
  saveWeights(out, model, { model: 'ResidualNet' });
  console.log(JSON.stringify({ device, steps: train.batches, testLoss: test.loss, testAccuracy: test.accuracy, images: test.count, saved: out }));
}

if (require.main === module) main(process.argv.slice(2)).catch((err) => { console.error(err); process.exit(1); });
