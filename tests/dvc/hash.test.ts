import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { readDvcFile } from '../../src/dvc/dvcfile';
import { dos2unix, hashBuffer, hashFile, isTextBlock, ObjectHasher } from '../../src/dvc/hash';
import { compareCodePoints, manifestBytes, manifestHash, parseManifest, pythonJsonDumps } from '../../src/dvc/manifest';
import { hashDir } from '../../src/dvc/workspace';

const md5 = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('hex');

describe('directory manifests', () => {
  it('reproduces the worked example byte for byte', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-dvc-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.txt'), 'hello\n');
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.writeFileSync(path.join(dir, 'sub', 'b.bin'), Buffer.from([0, 1, 2]));
      const hashed = await hashDir(dir, 'md5');
      expect(hashed.manifest.toString('utf8')).toBe(
        '[{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "a.txt"}, {"md5": "b95f67f61ebb03619622d798f45fc2d3", "relpath": "sub/b.bin"}]',
      );
      expect(hashed.oid).toBe('5a4dac22e9efa9601e85168028da3631.dir');
      expect(hashed.size).toBe(9);
      expect(hashed.nfiles).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serialises like python json.dumps(sort_keys=True), non-ASCII escaped', () => {
    // expected text printed by python3: json.dumps([{"relpath": "é\x7f😀\n", "md5": "x"}], sort_keys=True)
    expect(pythonJsonDumps([{ relpath: 'é\x7f😀\n', md5: 'x' }])).toBe('[{"md5": "x", "relpath": "\\u00e9\\u007f\\ud83d\\ude00\\n"}]');
    expect(pythonJsonDumps({ b: [1, true, null], a: 'q"\\\t' })).toBe('{"a": "q\\"\\\\\\t", "b": [1, true, null]}');
  });

  it('sorts relpaths by code point, not by UTF-16 unit', () => {
    // U+FF46 sorts before U+1F600 in python; a plain JS sort puts the emoji first
    const names = ['😀', '\uff46', 'Z', 'a', 'a/b', 'a.b'];
    expect([...names].sort(compareCodePoints)).toEqual(['Z', 'a', 'a.b', 'a/b', '\uff46', '😀']);
    const bytes = manifestBytes(names.map((relpath) => ({ md5: md5(relpath), relpath })));
    expect(JSON.parse(bytes.toString()).map((e: { relpath: string }) => e.relpath)).toEqual(['Z', 'a', 'a.b', 'a/b', '\uff46', '😀']);
  });

  it('rejects manifests that would escape their folder or are malformed', () => {
    const ok = Buffer.from('[{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "a.txt"}]');
    expect(parseManifest(ok, 'x.dir')).toEqual([{ md5: 'b1946ac92492d2347c6235b4d2611184', relpath: 'a.txt' }]);
    for (const relpath of ['../evil', '/etc/passwd', 'a//b', 'a/./b', '']) {
      const bad = Buffer.from(JSON.stringify([{ md5: 'b1946ac92492d2347c6235b4d2611184', relpath }]));
      expect(() => parseManifest(bad, 'x.dir')).toThrow(/unsafe relpath/);
    }
    expect(() => parseManifest(Buffer.from('{"md5": 1}'), 'x.dir')).toThrow(/x.dir: expected a JSON list/);
    expect(() => parseManifest(Buffer.from('[{"md5": "zz", "relpath": "a"}]'), 'x.dir')).toThrow(/32 hex digits/);
    expect(() => parseManifest(Buffer.from('[oops'), 'x.dir')).toThrow(/not a JSON directory manifest/);
  });

  it('ships data/cifar-10-batches-py.dvc whose hash is the official folder manifest', () => {
    const official: Record<string, string> = {
      'batches.meta': '5ff9c542aee3614f3951f8cda6e48888',
      data_batch_1: 'c99cafc152244af753f735de768cd75f',
      data_batch_2: 'd4bba439e000b95fd0a9bffe97cbabec',
      data_batch_3: '54ebc095f3ab1f0389bbae665268c751',
      data_batch_4: '634d18415352ddfa80567beed471001a',
      data_batch_5: '482c414d41f54cd18b22e5b47cb7c3cb',
      test_batch: '40351d587109b95175f43aff81a1287e',
      'readme.html': '82949b010606e8171045e61c60921d12',
    };
    const entries = Object.entries(official).map(([relpath, m]) => ({ md5: m, relpath }));
    const shipped = readDvcFile(path.join(__dirname, '..', '..', 'data', 'cifar-10-batches-py.dvc'));
    expect(shipped.outs).toHaveLength(1);
    expect(shipped.outs[0]).toMatchObject({ md5: manifestHash(manifestBytes(entries), 'md5'), nfiles: 8, hash: 'md5', path: 'cifar-10-batches-py' });
  });
});

describe('DVC 2 legacy hashing (md5-dos2unix)', () => {
  it("classifies blocks as DVC's istextfile does", () => {
    expect(isTextBlock(Buffer.alloc(0))).toBe(true);
    expect(isTextBlock(Buffer.from('plain text\r\n'))).toBe(true);
    expect(isTextBlock(Buffer.from('text with a nul\0'))).toBe(false);
    // 3 of 10 bytes outside the text set is still text (<= 30%), 4 of 10 is not
    expect(isTextBlock(Buffer.from([0x80, 0x81, 0x82, 65, 65, 65, 65, 65, 65, 65]))).toBe(true);
    expect(isTextBlock(Buffer.from([0x80, 0x81, 0x82, 0x83, 65, 65, 65, 65, 65, 65]))).toBe(false);
    // only the first 512 bytes count
    expect(isTextBlock(Buffer.concat([Buffer.alloc(512, 65), Buffer.alloc(100, 0)]))).toBe(true);
  });

  it('hashes CRLF text as LF text, and binary files as they are', () => {
    expect(hashBuffer(Buffer.from('a\r\nb\r\nc'), 'md5-dos2unix')).toBe(md5('a\nb\nc'));
    expect(hashBuffer(Buffer.from('a\r\nb\r\nc'), 'md5')).toBe(md5('a\r\nb\r\nc'));
    expect(hashBuffer(Buffer.from('lone\rcr'), 'md5-dos2unix')).toBe(md5('lone\rcr'));
    const binary = Buffer.from('\0\r\n\r\n');
    expect(hashBuffer(binary, 'md5-dos2unix')).toBe(md5(binary));
    expect(dos2unix(Buffer.from('\r\n\r\r\n\n'))).toEqual(Buffer.from('\n\r\n\n'));
  });

  it('decides text-ness once, from the start, and converts within 1 MiB chunks', async () => {
    // a CRLF split by the 1 MiB boundary stays; the one after it is converted
    const head = Buffer.alloc((1 << 20) - 1, 0x61);
    const data = Buffer.concat([head, Buffer.from('\r\nb\r\n')]);
    const expected = md5(Buffer.concat([head, Buffer.from('\r\nb\n')]));
    expect(hashBuffer(data, 'md5-dos2unix')).toBe(expected);
    // fed in odd pieces, the result is the same
    const h = new ObjectHasher('md5-dos2unix');
    for (let i = 0; i < data.length; i += 77777) h.update(data.subarray(i, i + 77777));
    expect(h.digest()).toBe(expected);
    // a text start makes later binary-looking chunks convert too
    const mixed = Buffer.concat([Buffer.alloc(1 << 20, 0x61), Buffer.from('\0\r\n')]);
    expect(hashBuffer(mixed, 'md5-dos2unix')).toBe(md5(Buffer.concat([Buffer.alloc(1 << 20, 0x61), Buffer.from('\0\n')])));
    // and from a file
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-dvc-')), 'big.txt');
    fs.writeFileSync(file, data);
    expect(await hashFile(file, 'md5-dos2unix')).toEqual({ md5: expected, size: data.length });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('keeps the raw md5 alongside for upload checksums', () => {
    const data = Buffer.from('x\r\n');
    const h = new ObjectHasher('md5-dos2unix', true);
    h.update(data);
    const legacy = h.digest();
    expect(legacy).toBe(md5('x\n'));
    expect(h.rawMd5Base64(legacy)).toBe(crypto.createHash('md5').update(data).digest('base64'));
  });
});
