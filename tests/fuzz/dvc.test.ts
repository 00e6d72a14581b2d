// fuzzing the data-versioning readers: .dvc files (YAML), .dvc/config (INI)
// and .dir manifests (JSON)
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { manifestBytes } from '../../src/dvc/manifest';
import { jsonObjectLike, jsonText, mutated, runs } from './fuzz';
import { parseDirManifest, parseDvcConfig, parseDvcFile } from './parsers';

const text = (s: string) => Buffer.from(s, 'utf8');
const check = (parse: (b: Buffer) => unknown) => (b: Buffer) => void parse(b);

describe('fuzz: .dvc files', () => {
  const seeds = [
    'outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  size: 186214400\n  nfiles: 8\n  hash: md5\n  path: cifar-10-batches-py\n',
    'outs:\n  - md5: c58f30108f718f92721af3b95e74349a\n    path: cifar-10-python.tar.gz\n    size: 170498071\nwdir: ../data\nmeta:\n  source: https://www.cs.toronto.edu/\n',
  ].map(text);
  // lines a hostile or broken .dvc file might hold: anchors and aliases,
  // tags, flow collections, deep nesting, odd scalars
  const fragments = [
    'outs:', '- path: a', '  md5: 0123456789abcdef0123456789abcdef', '  size: -1', '  nfiles: 1e400', '  hash: sha256',
    'a: &x [1, 2]', 'b: *x', 'c: *y', '!!python/object:os.system {}', 'outs: !!binary aGVsbG8=', 'outs: {path: x}',
    '- path: ~', '- ? complex key', '  : value', '---', '...', 'wdir: /etc', '%YAML 1.1', '- [[[[[[[[[[]]]]]]]]]]', '\t- tab', '  md5: !!int 5',
    '__proto__: {path: x}', 'outs: [{path: a, md5: 0123456789abcdef0123456789abcdef.dir, __proto__: 1}]',
  ];
  const generated = fc.array(fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 12 })), { maxLength: 8 }).map((ls) => text(ls.join('\n')));
  // aliases expanding aliases: a few hundred bytes asking for millions of nodes
  const laughs = fc.integer({ min: 1, max: 9 }).map((depth) => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= depth; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    lines.push(`outs: [{path: p, md5: *a${depth}}]`);
    return text(lines.join('\n'));
  });
  it('mutated, generated and alias-bomb files end in outs or a DvcError', () => {
    fc.assert(fc.property(fc.oneof(mutated(seeds), generated, laughs), check(parseDvcFile)), runs(1000));
  });
});

describe('fuzz: .dvc/config', () => {
  const seed = text([
    '[core]', '    remote = storage', '    autostage = true  # a comment',
    "['remote \"storage\"']", '    url = s3://bucket/path', '    endpointurl = "http://localhost:4568"', '',
  ].join('\n'));
  const fragments = ['[core]', "['remote \"x\"']", '[', ']', '[[a]]', 'key = value', '= value', 'key =', 'k = "unterminated', "k = 'a' b", 'k = """triple"""', '# comment', '; comment', '\r', 'key = "a" # c', "['remote \"\"']"];
  const generated = fc.array(fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 12 })), { maxLength: 10 }).map((ls) => text(ls.join('\n')));
  it('mutated and generated configs end in sections or a DvcError', () => {
    fc.assert(fc.property(fc.oneof(mutated([seed]), generated), check(parseDvcConfig)), runs(3000));
  });
});

describe('fuzz: .dir manifests', () => {
  const seed = manifestBytes([
    { md5: '0123456789abcdef0123456789abcdef', relpath: 'data_batch_1' },
    { md5: 'fedcba9876543210fedcba9876543210', relpath: 'sub/test_batch' },
  ]);
  const entry = jsonObjectLike({ md5: '0123456789abcdef0123456789abcdef', relpath: 'a' });
  const generated = fc.array(fc.oneof(entry, jsonText), { maxLength: 4 }).map((es) => text(`[${es.join(', ')}]`));
  it('mutated and generated manifests end in entries or a DvcError', () => {
    fc.assert(fc.property(fc.oneof(mutated([seed]), generated, jsonText.map(text)), check(parseDirManifest)), runs(3000));
  });
});
