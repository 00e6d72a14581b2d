// the binding table (native/addon.cc) is the one declaration of every op's
// arguments; src/native.ts types the same surface by hand, so this test holds
// the Addon interface to the table: the same ops, the same parameter names in
// the same order, and TypeScript types that fit each argument's kind.
import fs from 'fs';
import path from 'path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { OpArg } from '../../src/native';
import { addon } from '../helpers/native';

interface Param {
  name: string;
  type: string;
  optional: boolean;
}

// the methods of `interface Addon` in src/native.ts, as written
function addonMethods(): Map<string, Param[]> {
  const file = path.resolve(__dirname, '../../src/native.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const methods = new Map<string, Param[]>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== 'Addon') return;
    for (const member of node.members) {
      if (!ts.isMethodSignature(member)) continue;
      methods.set(member.name.getText(source), member.parameters.map((p) => ({
        name: p.name.getText(source),
        type: p.type ? p.type.getText(source).replace(/\s+/g, ' ') : '',
        optional: p.questionToken !== undefined,
      })));
    }
  });
  return methods;
}

// the TypeScript type an argument of this kind is written with
function typeFor(arg: OpArg): string {
  switch (arg.kind) {
    case 'boolean': return 'boolean';
    case 'integer': case 'float': case 'number': return 'number';
    case 'bigint': return 'bigint';
    case 'ConvShape': case 'PoolShape': return arg.kind;
    default: return arg.nullable ? 'NativeStorage | null' : 'NativeStorage';
  }
}

describe('the binding table', () => {
  const table = addon.opTable();
  const methods = addonMethods();

  it('lists the ops, each argument with a kind, and sizes for every storage', () => {
    expect(table.length).toBeGreaterThanOrEqual(28);
    for (const op of table) {
      expect(typeof addon[op.name as keyof typeof addon], op.name).toBe('function');
      for (const arg of op.args) {
        if (['f32', 'i32', 'u8'].includes(arg.kind)) {
          expect(arg.size, `${op.name}.${arg.name}`).toMatch(/^[A-Za-z0-9]+([*+][A-Za-z0-9]+)*$/);
          expect(['in', 'out', 'inout']).toContain(arg.role);
        }
      }
    }
    const gemm = table.find((op) => op.name === 'gemm')!;
    expect(gemm.args.map((a) => a.name)).toEqual(['transA', 'transB', 'm', 'n', 'k', 'alpha', 'a', 'b', 'beta', 'c']);
    expect(gemm.args[9]).toMatchObject({ kind: 'f32', size: 'm*n', role: 'out' });
  });

  it('src/native.ts declares every op with the table\'s parameters, in order', () => {
    for (const op of table) {
      const params = methods.get(op.name);
      expect(params, `Addon.${op.name} in src/native.ts`).toBeDefined();
      expect(params!.map((p) => p.name), `Addon.${op.name}'s parameter names`).toEqual(op.args.map((a) => a.name));
      op.args.forEach((arg, i) => {
        expect(params![i].type, `Addon.${op.name}(${arg.name})`).toBe(typeFor(arg));
        expect(params![i].optional, `Addon.${op.name}(${arg.name}) optional`).toBe(false);
      });
    }
  });

  it('the shape rules TypeScript uses are the ones the ops check', () => {
    // (h + 2*pad - k) / stride + 1, floored, and nothing when the window does not fit
    expect(addon.convOutputSize(32, 3, 1, 1)).toBe(32);
    expect(addon.convOutputSize(7, 3, 2, 0)).toBe(3);
    expect(() => addon.convOutputSize(2, 5, 1, 1)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(addon.poolOutputSize(5, 2, 2, 1)).toBe(3);
    expect(() => addon.poolOutputSize(4, 2, 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => addon.poolOutputSize(1, 2, 2, 0)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
  });
});
