// saveWeights / loadWeights: a model's state dict alone, in one safetensors file
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Linear, Sequential, BatchNorm2d } from '../../src/nn';
import { Generator } from '../../src/random';
import { CudalabError } from '../../src/errors';
import { loadWeights, saveWeights } from '../../src/train/weights';
import { readSafetensors } from '../../src/train/safetensors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-weights-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('saveWeights and loadWeights', () => {
  it('write every parameter and buffer under its name, and load them back into another model', () => {
    const file = path.join(tmp, 'a.safetensors');
    const a = new Sequential(new Linear(3, 2, { generator: new Generator(1) }), new BatchNorm2d(2));
    saveWeights(file, a, { note: 'hello' });
    const saved = readSafetensors(file);
    expect(saved.metadata).toEqual({ format: 'pt', note: 'hello' });
    expect(Object.keys(saved.tensors).sort()).toEqual(Object.keys(a.stateDict()).sort());
    expect(Array.from(saved.tensors['0.weight'].data)).toEqual(Array.from(a.stateDict()['0.weight'].toArray()));

    const b = new Sequential(new Linear(3, 2, { generator: new Generator(2) }), new BatchNorm2d(2));
    expect(Array.from(b.stateDict()['0.weight'].toArray())).not.toEqual(Array.from(saved.tensors['0.weight'].data));
    loadWeights(file, b);
    for (const [name, t] of Object.entries(b.stateDict())) expect(Array.from(t.toArray())).toEqual(Array.from(saved.tensors[name].data));
  });

  it('refuses a file that does not fit the model, naming the file, and changes nothing', () => {
    const file = path.join(tmp, 'b.safetensors');
    saveWeights(file, new Sequential(new Linear(3, 2)));
    const other = new Sequential(new Linear(4, 2, { generator: new Generator(3) }));
    const before = Array.from(other.stateDict()['0.weight'].toArray());
    let err: unknown;
    try {
      loadWeights(file, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CudalabError);
    expect((err as CudalabError).code).toBe('ERR_STATE');
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('size mismatch for 0.weight');
    expect(Array.from(other.stateDict()['0.weight'].toArray())).toEqual(before);
  });
});
