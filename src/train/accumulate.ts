// running sums that stay on the device, so a CUDA step never waits for the
// GPU just to add up a loss. a float sum is updated in place with one native
// axpby per step; correct counts (int32, one per batch) are kept as they come
// and read together, after the float sum's read has already waited for the
// device, so each costs a 4-byte copy and no extra wait.
import { native } from '../native';
import { Tensor } from '../tensor';

/** sum of weight * x over the steps, on the device */
export class DeviceSum {
  private readonly total: Tensor;

  constructor(device: Tensor['device']) {
    this.total = Tensor.zeros([1], { device });
  }

  /** total += weight * x, in place; x is a one-element float32 tensor on the same device */
  add(x: Tensor, weight: number): void {
    const t = this.total.storage('DeviceSum.add', 'total');
    native().axpby(1, 1, t, weight, x.storage('DeviceSum.add', 'x'), t);
  }

  /** waits for the device */
  read(): number {
    return this.total.item();
  }

  dispose(): void {
    this.total.dispose();
  }
}

/** int32 one-element counts (correctCount's), summed when read */
export class DeviceCount {
  private pending: Tensor[] = [];
  private total = 0;

  /** takes ownership of count: it is disposed once read */
  add(count: Tensor): void {
    this.pending.push(count);
  }

  /** reads the counts not yet read (waits for the device) and returns the sum of all so far */
  read(): number {
    for (const c of this.pending) {
      this.total += c.item();
      c.dispose();
    }
    this.pending = [];
    return this.total;
  }

  dispose(): void {
    for (const c of this.pending) c.dispose();
    this.pending = [];
  }
}
