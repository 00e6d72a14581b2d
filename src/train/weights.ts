// a model's weights alone in one safetensors file: its state dict under
// PyTorch's names (torch's load_state_dict takes them as they are), for
// library users who train in their own loop. runs keep whole checkpoints
// (checkpoint.ts), optimizer and generators included.
import type { Module } from '../nn/module';
import { CudalabError } from '../errors';
import { Tensor } from '../tensor';
import { toEntries } from './checkpoint';
import { readSafetensors, writeSafetensors } from './safetensors';

/** writes model.stateDict() to file, atomically; metadata lands in the file's __metadata__ */
export function saveWeights(file: string, model: Module, metadata: Record<string, string> = {}): void {
  writeSafetensors(file, toEntries(model.stateDict()), { format: 'pt', ...metadata });
}

/** loads a file saveWeights (or torch's save_file) wrote into model, on whatever device the model is */
export function loadWeights(file: string, model: Module): void {
  const { tensors } = readSafetensors(file);
  const sd: Record<string, Tensor> = {};
  try {
    for (const [name, t] of Object.entries(tensors)) {
      sd[name] = Tensor.fromArray(t.data, t.shape, { dtype: t.dtype === 'I32' ? 'int32' : 'float32' });
    }
    try {
      model.loadStateDict(sd);
    } catch (err) {
      if (err instanceof CudalabError) throw new CudalabError(err.code, `${file}: ${err.message}`);
      throw err;
    }
  } finally {
    for (const t of Object.values(sd)) t.dispose();
  }
}
