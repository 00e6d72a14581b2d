// storages and transfers: allocation, free (idempotent), the byte accounting
// of memoryStats, write/read/copy with offsets and DataViews, and the build /
// device information the addon reports.
import { execFileSync } from 'child_process';
import { describe, expect, it } from 'vitest';
import { expectExact } from '../helpers/compare';
import { addon, addonPath, cudaAvailable, useScopes } from '../helpers/native';

const scopes = useScopes();

describe('storage and transfers', () => {
  it('a storage knows its device and size, and free() is idempotent', () => {
    const before = addon.memoryStats('cpu');
    const s = new addon.Storage('cpu', 1000);
    expect(s.device).toBe('cpu');
    expect(s.bytes).toBe(1000);
    expect(s.freed).toBe(false);
    const during = addon.memoryStats('cpu');
    expect(during.allocated - before.allocated).toBe(1000);
    expect(during.storages - before.storages).toBe(1);
    s.free();
    expect(s.freed).toBe(true);
    s.free();
    const after = addon.memoryStats('cpu');
    expect(after.allocated).toBe(before.allocated);
    expect(after.storages).toBe(before.storages);
  });

  it('a 0-byte storage is valid', () => {
    const s = scopes.cpu.raw(0);
    expect(s.bytes).toBe(0);
    addon.write(s, new Float32Array(0));
    addon.read(s, new Float32Array(0));
  });

  it('write and read round-trip at byte offsets, through any ArrayBufferView', () => {
    const cpu = scopes.cpu;
    const s = cpu.raw(64);
    addon.write(s, new Float32Array(16).fill(0));
    addon.write(s, Float32Array.of(1.5, -2.5), 8);
    addon.write(s, new Uint8Array([0, 0, 0x80, 0x3f]), 60); // 1.0f
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat32(0, 7, true);
    dv.setFloat32(4, 8, true);
    addon.write(s, dv, 16);
    expectExact(cpu.read(s), [0, 0, 1.5, -2.5, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 'after writes');
    // a view into the middle of a larger buffer reads only its own bytes
    const big = new Float32Array(10).fill(-1);
    addon.read(s, big.subarray(3, 5), 8);
    expectExact(big, [-1, -1, -1, 1.5, -2.5, -1, -1, -1, -1, -1], 'read into a subarray');
  });

  it('copy moves bytes between storages at offsets', () => {
    const cpu = scopes.cpu;
    const a = cpu.floats([1, 2, 3, 4, 5, 6]);
    const b = cpu.floats([0, 0, 0, 0, 0, 0]);
    addon.copy(b, a, 12, 4, 8); // a[2..5) -> b[1..4)
    expectExact(cpu.read(b), [0, 3, 4, 5, 0, 0], 'copy with offsets');
    addon.copy(b, a, 24);
    expectExact(cpu.read(b), [1, 2, 3, 4, 5, 6], 'whole copy');
    addon.copy(a, a, 8, 0, 16); // non-overlapping ranges of one storage
    expectExact(cpu.read(a), [5, 6, 3, 4, 5, 6], 'copy within a storage');
  });

  it('reports the build and why CUDA is (not) available', () => {
    const b = addon.buildInfo();
    expect(b.backends).toContain('cpu');
    expect(b.napiVersion).toBeGreaterThanOrEqual(8);
    expect(typeof b.compiler).toBe('string');
    expect(typeof b.debug).toBe('boolean');
    expect(typeof b.sanitizers).toBe('boolean');
    const c = addon.cudaInfo();
    expect(c.available).toBe(cudaAvailable);
    if (b.cuda === null) {
      expect(b.backends).toEqual(['cpu']);
      expect(c.available).toBe(false);
      expect(c.reason).toBe('this build has no CUDA backend (built without nvcc 12.8+)');
      expect(c.devices).toEqual([]);
      expect(c.driverVersion).toBeNull();
    } else {
      expect(b.backends).toEqual(['cpu', 'cuda']);
      expect(b.cuda.architectures.length).toBeGreaterThan(0);
      if (!c.available) expect(c.reason.length).toBeGreaterThan(0);
      for (const d of c.devices) expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
    }
    const stats = addon.memoryStats('cuda');
    expect(stats.allocated).toBeGreaterThanOrEqual(0);
  });

  it('the thread count can be set and restored', () => {
    const def = addon.getNumThreads();
    expect(def).toBeGreaterThanOrEqual(1);
    addon.setNumThreads(1);
    expect(addon.getNumThreads()).toBe(1);
    addon.setNumThreads(3);
    expect(addon.getNumThreads()).toBe(3);
    addon.setNumThreads(0);
    expect(addon.getNumThreads()).toBe(def);
    addon.synchronize('cpu');
  });

  it('storages the program forgets are released by their finalizer after garbage collection', () => {
    // a child process with --expose-gc, so collection can be forced
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      (function () { for (let i = 0; i < 100; i++) new addon.Storage('cpu', 1 << 16); })();
      const during = addon.memoryStats('cpu');
      global.gc();
      setTimeout(() => {
        global.gc();
        setTimeout(() => console.log(JSON.stringify([during, addon.memoryStats('cpu')])), 50);
      }, 50);`;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    const [during, after] = JSON.parse(out);
    expect(during.storages).toBe(100);
    expect(during.allocated).toBe(100 * 65536);
    expect(after.storages).toBeLessThan(100);
    expect(after.allocated).toBe(after.storages * 65536);
  });

  it('native memory counts as GC pressure: a loop that never frees its storages stays bounded', () => {
    // a program that drops 1 MiB storages without free(), yielding to the event
    // loop each step as a real one does. its JavaScript heap barely grows, so
    // only the reported native bytes can make V8 collect: then the finalizers
    // run and the live count stays far below the number made
    const steps = 2000;
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      (async () => {
        let peak = 0;
        for (let i = 0; i < ${steps}; i++) {
          new addon.Storage('cpu', 1 << 20);
          peak = Math.max(peak, addon.memoryStats('cpu').storages);
          await new Promise((resolve) => setImmediate(resolve));
        }
        console.log(JSON.stringify({ peak, live: addon.memoryStats('cpu').storages }));
      })();`;
    const out = execFileSync(process.execPath, ['--max-old-space-size=32', '-e', script], { encoding: 'utf8' });
    const { peak, live } = JSON.parse(out);
    // every storage the child no longer holds was released by its finalizer
    expect(steps - live).toBeGreaterThan(0);
    expect(peak).toBeLessThan(steps / 10); // about 70 here; 800 when native bytes went unreported
  });
});
