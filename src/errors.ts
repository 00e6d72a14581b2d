// the one error type the tensor layer throws. `code` is stable so callers can
// test it; the message is for people and names the op, the argument and what
// was expected. errors coming out of the native addon keep their code
// (ERR_NO_CUDA, ERR_OOM, ...) and gain the op's name.

export type ErrorCode =
  | 'ERR_SHAPE' // shapes that do not fit the op
  | 'ERR_DTYPE' // float32 where int32 was needed, or the other way round
  | 'ERR_DEVICE' // operands on different devices
  | 'ERR_DISPOSED' // a tensor used after dispose()
  | 'ERR_ARG' // a bad argument that is not a shape (p outside [0, 1], lr < 0, ...)
  | 'ERR_STATE' // a state dict that does not fit the module or optimizer
  | 'ERR_MODEL' // an unknown model name
  | 'ERR_FREED' // native: a storage used after free
  | 'ERR_NO_CUDA' // native: cuda asked for where there is none (the message says why)
  | 'ERR_CUDA' // native: a CUDA runtime error
  | 'ERR_OOM' // native: out of memory
  | 'ERR_CPU'; // native: CUDALAB_CPU names an instruction set this processor cannot run, or an unknown one

export class CudalabError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CudalabError';
    this.code = code;
  }
}

/** turns whatever the addon threw into a CudalabError that names the op */
export function fromNative(op: string, err: unknown): CudalabError {
  if (err instanceof CudalabError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && e.code.startsWith('ERR_') ? (e.code as ErrorCode) : 'ERR_ARG';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return new CudalabError(code, `${op}: ${message}`);
}
