// the AWS SDK's nine-line node-version warning: one line, at most once, per
// push, pull and status; every other warning untouched. the child-process
// test needs the compiled program (dist/) and a node the SDK warns about.
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { withSdkNodeWarningCondensed } from '../../src/dvc/sdk-warning';
import { addAll, dropWorkspaceAndCache, fixture, useS3Repos, writeData } from './s3-repos';

useS3Repos();

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'cudalab.js');
const built = fs.existsSync(path.join(root, 'dist', 'cli', 'index.js'));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sdk = require('@aws-sdk/core/client') as { state: { warningEmitted: boolean }; emitWarningIfUnsupportedVersion(version: string): void };

/** the SDK's warning, as the SDK itself emits it for an old node */
function emitTheSdksWarning(): void {
  sdk.state.warningEmitted = false;
  sdk.emitWarningIfUnsupportedVersion('v20.0.0');
}

const ONE_LINE = /^cudalab: warning: the AWS SDK's releases .+ will require node >=\d+; this is node v\d+\.\d+\.\d+$/;

// asynchronous: the S3 server the child talks to runs in this process
function stderrOf(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  delete env.NODE_NO_WARNINGS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe("the AWS SDK's node-version warning", () => {
  const sdkWarns = Number(process.versions.node.split('.')[0]) < 22;

  it.skipIf(!built || !sdkWarns)('is one line, once, on push, status and pull (skipped without dist/, or on node >= 22)', async () => {
    const f = fixture();
    writeData(f.dir);
    await addAll(f);
    for (const command of ['push', 'status', 'pull']) {
      // pull has something to fetch, so it talks to the remote too
      if (command === 'pull') dropWorkspaceAndCache(f.dir);
      const r = await stderrOf(['data', command, '-C', f.dir]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect([command, lines.length]).toEqual([command, 1]);
      expect(lines[0]).toMatch(ONE_LINE);
      expect(lines[0]).toContain(`this is node ${process.version}`);
    }
  });

  it('is condensed only while a command runs, and other warnings go through', async () => {
    const original = process.emitWarning;
    const seen: string[] = [];
    const onWarning = (w: Error) => seen.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const printed: string[] = [];
    try {
      await withSdkNodeWarningCondensed(
        async () => {
          process.emitWarning('something else entirely', 'CudalabTestWarning');
          emitTheSdksWarning();
          emitTheSdksWarning();
        },
        { write: (text: string) => printed.push(text) },
      );
      expect(process.emitWarning).toBe(original);
      // 'warning' events arrive on the next tick
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
      sdk.state.warningEmitted = true;
    }
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^cudalab: warning: the AWS SDK's releases after the first week of January 2027 will require node >=22; this is node v20\.0\.0\n$/);
    expect(seen).toEqual(['CudalabTestWarning: something else entirely']);
  });
});
