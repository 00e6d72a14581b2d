// one check per parser, shared by the fuzz tests and the corpus replay: the
// parser runs on the bytes and must end in a value or a project error, within
// the memory bound (see fuzz.ts), plus what each parser promises on its own
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'vitest';
import { NumpyArray, PickleBytes, PickleTuple, PickleValue, unpickle } from '../../src/data/pickle';
import { parseIni } from '../../src/dvc/config';
import { readDvcFile } from '../../src/dvc/dvcfile';
import { parseManifest } from '../../src/dvc/manifest';
import { readMetricsFile } from '../../src/report/runs';
import { findLatestCheckpoint } from '../../src/train/checkpoint';
import { parseRunConfig } from '../../src/train/config';
import { parseExperiments } from '../../src/train/experiments';
import { readMetrics } from '../../src/train/metrics';
import { decodeSafetensors } from '../../src/train/safetensors';
import { expectParsed } from './fuzz';

/** the model names the config parsers check against */
export const MODELS = ['seedcnn', 'tfcnn', 'ptcnn', 'tutorial'];

// every byte the unpickler hands back is a view of its input or a copy no
// bigger than it (it decodes, it never expands)
function bytesHeld(v: PickleValue, seen = new Set<unknown>()): number {
  if (v === null || typeof v !== 'object' || seen.has(v)) return 0;
  seen.add(v);
  if (v instanceof PickleBytes) return v.bytes.length;
  if (v instanceof NumpyArray) return v.data.length;
  if (v instanceof PickleTuple) return v.items.reduce((n: number, x) => Math.max(n, bytesHeld(x, seen)), 0);
  if (Array.isArray(v)) return v.reduce((n: number, x) => Math.max(n, bytesHeld(x, seen)), 0);
  if (v instanceof Map) return [...v.values()].reduce((n: number, x) => Math.max(n, bytesHeld(x, seen)), 0);
  return 0;
}

/** the DataError, or undefined when it parsed */
export function parsePickle(buf: Buffer): unknown {
  const err = expectParsed(buf.length, () => {
    const v = unpickle(buf, 'fuzz.pkl');
    expect(bytesHeld(v)).toBeLessThanOrEqual(buf.length);
    return v;
  });
  // a message quotes a little of the file, never all of it
  if (err) expect((err as Error).message.length).toBeLessThan(600);
  return err;
}


// the parsers that read a file (or a folder) get one folder, reused: each
// input overwrites its files (a fresh folder per input would be most of the time)
let scratch: string | undefined;
function inFolder<T>(files: Record<string, Buffer | string>, read: (dir: string) => T): T {
  if (scratch === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-fuzz-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  for (const f of fs.readdirSync(scratch)) fs.rmSync(path.join(scratch, f), { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(scratch, name), bytes);
  return read(scratch);
}

export function parseSafetensors(buf: Buffer): unknown {
  return expectParsed(buf.length, () => {
    const { tensors } = decodeSafetensors(buf, 'fuzz.safetensors');
    // tensors are copies of the data bytes: together no bigger than the file
    const held = Object.values(tensors).reduce((n, t) => n + t.data.byteLength, 0);
    expect(held).toBeLessThanOrEqual(buf.length);
  });
}

// a run directory holding one checkpoint whose sidecar is the input; the weight
// files only need to exist for the sidecar to be read
export function parseCheckpointSidecar(buf: Buffer): unknown {
  return inFolder(
    { 'checkpoint-epoch-1.json': buf, 'checkpoint-epoch-1.safetensors': '', 'checkpoint-epoch-1.optimizer.safetensors': '' },
    (dir) => expectParsed(buf.length, () => findLatestCheckpoint(dir)),
  );
}

export function parseDvcFile(buf: Buffer): unknown {
  return inFolder({ 'data.dvc': buf }, (dir) => expectParsed(buf.length, () => readDvcFile(path.join(dir, 'data.dvc'))));
}

export function parseDvcConfig(buf: Buffer): unknown {
  return expectParsed(buf.length, () => parseIni(buf.toString('utf8'), '.dvc/config'));
}

export function parseDirManifest(buf: Buffer): unknown {
  return expectParsed(buf.length, () => parseManifest(buf, 'fuzz.dir'));
}

export function parseExperimentsFile(buf: Buffer): unknown {
  return expectParsed(buf.length, () => parseExperiments(buf.toString('utf8'), 'experiments.json', MODELS));
}

// config.json is JSON.parse'd by the run's reader (a ConfigError when it is not
// JSON) and then checked field by field here
export function parseRunConfigFile(buf: Buffer): unknown {
  return expectParsed(buf.length, () => {
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8'));
    } catch {
      return undefined;
    }
    return parseRunConfig(value, 'config.json', MODELS);
  });
}

export function parseTrainMetrics(buf: Buffer): unknown {
  return inFolder({ 'metrics.jsonl': buf }, (dir) => expectParsed(buf.length, () => readMetrics(dir)));
}

export function parseReportMetrics(buf: Buffer): unknown {
  return inFolder({ 'metrics.jsonl': buf }, (dir) => expectParsed(buf.length, () => readMetricsFile(path.join(dir, 'metrics.jsonl'))));
}

/** the check for each corpus folder, by its name */
export const CHECKS: Record<string, (bytes: Buffer) => unknown> = {
  pickle: parsePickle,
  safetensors: parseSafetensors,
  checkpoint: parseCheckpointSidecar,
  'dvc-file': parseDvcFile,
  'dvc-config': parseDvcConfig,
  'dir-manifest': parseDirManifest,
  experiments: parseExperimentsFile,
  'run-config': parseRunConfigFile,
  'train-metrics': parseTrainMetrics,
  'report-metrics': parseReportMetrics,
};
