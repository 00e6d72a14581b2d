// a device as people name it on the command line: cpu, cuda (the first GPU
// this process sees), cuda:N (the N-th), or auto (cuda when a usable GPU is
// there, else cpu). parsed here and nowhere else.
//
// cuda:N is put into effect by the process that trains: it is started with
// CUDA_VISIBLE_DEVICES naming that one GPU, so inside it the GPU is plain
// `cuda` and the default device path of the addon stays as it is. an index
// counts among the GPUs this process may see: with CUDA_VISIBLE_DEVICES=2,3
// here, cuda:1 is the machine's GPU 3.
import { ConfigError } from './train/config';

export type DeviceSpec = { kind: 'auto' } | { kind: 'cpu' } | { kind: 'cuda'; index: number | null };

const EXPECTED = 'cpu, cuda, cuda:N (N = 0, 1, ...) or auto';

export function parseDeviceSpec(text: unknown, argument: string): DeviceSpec {
  if (text === 'auto') return { kind: 'auto' };
  if (text === 'cpu') return { kind: 'cpu' };
  if (text === 'cuda') return { kind: 'cuda', index: null };
  const m = typeof text === 'string' ? /^cuda:(\d{1,4})$/.exec(text) : null;
  if (m === null) throw new ConfigError(argument, `${argument} must be ${EXPECTED}, got ${JSON.stringify(text)}`);
  return { kind: 'cuda', index: Number(m[1]) };
}

export function deviceSpecText(d: DeviceSpec): string {
  return d.kind === 'cuda' && d.index !== null ? `cuda:${d.index}` : d.kind;
}

/** the run setting's device (auto, cpu or cuda) a training process is given */
export function runDeviceOf(d: DeviceSpec): 'auto' | 'cpu' | 'cuda' {
  return d.kind;
}

/**
 * the environment a training process for d runs with: for cuda:N,
 * CUDA_VISIBLE_DEVICES naming that GPU alone (counted among the ones this
 * process's own CUDA_VISIBLE_DEVICES leaves); otherwise env as it is
 */
export function environmentFor(d: DeviceSpec, env: NodeJS.ProcessEnv, argument = '--device'): NodeJS.ProcessEnv {
  if (d.kind !== 'cuda' || d.index === null) return env;
  const visible = env.CUDA_VISIBLE_DEVICES;
  let physical = String(d.index);
  if (visible !== undefined && visible.trim() !== '') {
    const list = visible.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (d.index >= list.length) {
      throw new ConfigError(argument, `${argument} cuda:${d.index}: CUDA_VISIBLE_DEVICES=${visible} leaves ${list.length} GPU${list.length === 1 ? '' : 's'} (cuda:0 to cuda:${list.length - 1})`);
    }
    physical = list[d.index];
  }
  return { ...env, CUDA_VISIBLE_DEVICES: physical };
}

/**
 * a command's --device in this process: cuda:N sets CUDA_VISIBLE_DEVICES to
 * that GPU and becomes plain cuda; any other value comes back as given, for
 * the command to check as it always has. the CUDA runtime reads the variable
 * once, when it starts, which in this addon is the first device query or use:
 * so a command calls this before it touches a device.
 */
export function useDeviceIndex(value: unknown, argument: string): unknown {
  if (typeof value !== 'string' || !value.startsWith('cuda:')) return value;
  const spec = parseDeviceSpec(value, argument);
  process.env.CUDA_VISIBLE_DEVICES = environmentFor(spec, process.env, argument).CUDA_VISIBLE_DEVICES;
  return 'cuda';
}
