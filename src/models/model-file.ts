// a --model value that names a file instead of a built-in model: it starts
// with ./, ../ or /, or ends in .js, .mjs or .cjs. it is resolved against the
// working directory, and the absolute path is what a run records.
import fs from 'fs';
import path from 'path';

const SCRIPT = /\.(js|mjs|cjs)$/;

export function isModelPath(value: string): boolean {
  return value.startsWith('./') || value.startsWith('../') || path.isAbsolute(value) || SCRIPT.test(value);
}

/** the absolute path of a model file, or why it cannot be one */
export function resolveModelFile(value: string): { file: string } | { problem: string } {
  const file = path.resolve(value);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return { problem: `there is no file ${file}` };
  }
  if (!stat.isFile()) return { problem: `${file} is not a file` };
  if (!SCRIPT.test(file)) return { problem: `${file} is not a JavaScript file (.js, .mjs or .cjs)` };
  return { file };
}

/** a short name for a model, for run names: "resnet18", or the file's name without its extension ("my-net") */
export function modelLabel(model: string): string {
  if (!isModelPath(model)) return model;
  const base = path.basename(model).replace(SCRIPT, '').replace(/[^A-Za-z0-9._+-]/g, '-');
  return /^[A-Za-z0-9]/.test(base) ? base : `model${base}`;
}
