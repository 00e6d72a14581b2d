// addon.view: a storage aliasing a byte range of another, which the checker
// uses to put guard zones around every buffer. ops given a view touch only its
// range; the view owns nothing and its parent outlives it.
import { execFileSync } from 'child_process';
import { describe, expect, it } from 'vitest';
import { addon, addonPath, cudaAvailable, cudaReason, useScopes } from '../helpers/native';

const scopes = useScopes();
const hasView = typeof (addon as { view?: unknown }).view === 'function';

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe.skipIf(!hasView)('addon.view' + (hasView ? '' : ' (this addon build predates it: npm run build:native)'), () => {
  for (const device of ['cpu', 'cuda'] as const) {
    const skip = device === 'cuda' && !cudaAvailable;
    it.skipIf(skip)(`aliases a byte range of its parent, and ops write only inside it (${device}${skip ? `: ${cudaReason}` : ''})`, () => {
      const scope = scopes[device];
      const parent = scope.floats(new Float32Array(10).fill(-1));
      const view = addon.view(parent, 12, 16);
      expect(view.device).toBe(device);
      expect(view.bytes).toBe(16);
      addon.fill(4, view, 7);
      expect(Array.from(scope.read(parent))).toEqual([-1, -1, -1, 7, 7, 7, 7, -1, -1, -1]);
      addon.write(parent, Float32Array.of(5), 16);
      expect(Array.from(scope.read(view))).toEqual([7, 5, 7, 7]);
      view.free();
    });
  }

  it('owns nothing: memoryStats does not count it, freeing it leaves the parent usable', () => {
    const parent = scopes.cpu.raw(64);
    const before = addon.memoryStats('cpu');
    const view = addon.view(parent, 0, 32);
    expect(addon.memoryStats('cpu')).toEqual(before);
    view.free();
    expect(view.freed).toBe(true);
    expect(parent.freed).toBe(false);
    expect(codeOf(() => addon.fill(1, view, 0))).toBe('ERR_FREED');
    addon.fill(16, parent, 1);
    expect(addon.memoryStats('cpu')).toEqual(before);
  });

  it('is freed with its parent', () => {
    const parent = new addon.Storage('cpu', 64);
    const view = addon.view(parent, 8, 8);
    parent.free();
    expect(view.freed).toBe(true);
    expect(codeOf(() => addon.read(view, new Float32Array(2)))).toBe('ERR_FREED');
    view.free(); // idempotent after the parent went
  });

  it('rejects ranges outside the parent and bad arguments', () => {
    const parent = scopes.cpu.raw(64);
    expect(codeOf(() => addon.view(parent, 60, 8))).toBe('ERR_SHAPE');
    expect(codeOf(() => addon.view(parent, -4, 8))).toBe('ERR_ARG');
    expect(codeOf(() => addon.view(parent, 0.5, 8))).toBe('ERR_ARG');
    expect(codeOf(() => addon.view({} as never, 0, 8))).toBe('ERR_ARG');
    expect(addon.view(parent, 64, 0).bytes).toBe(0);
  });

  it('counts as the same memory as its parent where an op needs distinct storages', () => {
    const parent = scopes.cpu.floats(new Float32Array(16).fill(1));
    const a = addon.view(parent, 0, 16), c = addon.view(parent, 8, 16);
    expect(codeOf(() => addon.gemm(false, false, 2, 2, 2, 1, a, scopes.cpu.floats([1, 0, 0, 1]), 0, c))).toBe('ERR_ARG');
    expect(codeOf(() => addon.copy(parent, a, 8, 4, 0))).toBe('ERR_ARG');
    // side by side is fine
    const d = addon.view(parent, 16, 16);
    addon.gemm(false, false, 2, 2, 2, 1, a, scopes.cpu.floats([1, 0, 0, 1]), 0, d);
    addon.copy(parent, a, 8, 48, 0);
  });

  it('keeps its parent alive when only the view is held', () => {
    // a child process with --expose-gc, so collection can be forced
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      const view = (function () {
        const parent = new addon.Storage('cpu', 1 << 16);
        addon.fill(1 << 14, parent, 3);
        return addon.view(parent, 1024, 8);
      })();
      global.gc();
      setImmediate(() => {
        global.gc();
        const host = new Float32Array(2);
        addon.read(view, host);
        console.log(JSON.stringify([Array.from(host), addon.memoryStats('cpu').storages, view.freed]));
      });`;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([[3, 3], 1, false]);
  });
});
