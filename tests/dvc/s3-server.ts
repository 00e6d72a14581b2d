// a real S3-protocol server for the tests: s3rver on 127.0.0.1 (port 0, a
// temporary folder), behind a front that checks AWS signature version 4 the
// way S3 does. s3rver itself only checks that the access key id is known: it
// accepts any secret key. the front recomputes every request's signature
// from the one configured secret and answers 403 SignatureDoesNotMatch when
// it differs, so wrong secrets fail here as they fail against S3.
import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import os from 'os';
import path from 'path';

// s3rver encrypts the continuation tokens of truncated listings with DES,
// which Node 20's OpenSSL 3 no longer provides (ERR_OSSL_EVP_UNSUPPORTED, a
// 500 for any listing with more keys than asked for). the token is opaque to
// clients, so the test server gets a reversible stand-in for exactly that
// algorithm; every other cipher is untouched.
function standInForDes(): void {
  const real = { cipher: crypto.createCipheriv, decipher: crypto.createDecipheriv };
  const identity = () => {
    const parts: Buffer[] = [];
    return {
      update(data: string | Buffer, enc?: BufferEncoding) {
        parts.push(typeof data === 'string' ? Buffer.from(data, enc ?? 'utf8') : data);
        return Buffer.alloc(0);
      },
      final() {
        return Buffer.concat(parts);
      },
    };
  };
  const mutable = crypto as unknown as Record<string, unknown>;
  if ((real.cipher as unknown as { desStandIn?: boolean }).desStandIn) return;
  const cipher = (alg: string, ...rest: unknown[]) => (alg === 'des' ? identity() : (real.cipher as (...a: unknown[]) => unknown)(alg, ...rest));
  const decipher = (alg: string, ...rest: unknown[]) => (alg === 'des' ? identity() : (real.decipher as (...a: unknown[]) => unknown)(alg, ...rest));
  Object.assign(cipher, { desStandIn: true });
  mutable.createCipheriv = cipher;
  mutable.createDecipheriv = decipher;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const S3rver = require('s3rver');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const AWSAccount = require('s3rver/lib/models/account');

export interface TestS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  puts: string[]; // paths of accepted PUT requests, in arrival order
  truncate: Set<string>; // paths whose GET is answered with half the bytes, then a dropped connection
  close(): Promise<void>;
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const hmac = (key: crypto.BinaryLike, data: string) => crypto.createHmac('sha256', key).update(data).digest();

/** the sigv4 signature S3 expects for this request, or an error string */
function expectedSignature(req: http.IncomingMessage, secret: string): { given: string; expected: string } | string {
  const auth = req.headers.authorization;
  if (!auth) return 'missing Authorization';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'malformed Authorization';
  const [, , date, region, service, signedHeaders, given] = m;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const query = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const k = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      const v = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      return [rfc3986(k), rfc3986(v)];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = String(req.headers['x-amz-content-sha256'] ?? '');
  const canonical = [req.method, rawPath, query, canonicalHeaders, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date']), scope, crypto.createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key = hmac(`AWS4${secret}`, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  return { given, expected: hmac(key, toSign).toString('hex') };
}

export async function startS3(buckets: string[], credentials = { accessKeyId: 'cudalab-test-key', secretAccessKey: 'cudalab-test-secret-0123456789' }): Promise<TestS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-s3-'));
  standInForDes();
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(credentials.accessKeyId, credentials.secretAccessKey);
  const s3rver = new S3rver({ silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const puts: string[] = [];
  const truncate = new Set<string>();
  const server = http.createServer((req, res) => {
    const sig = expectedSignature(req, credentials.secretAccessKey);
    const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    // unknown key ids are s3rver's to reject (InvalidAccessKeyId)
    if (keyId === credentials.accessKeyId && (typeof sig === 'string' || sig.given !== sig.expected)) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        req.method === 'HEAD'
          ? undefined
          : '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message></Error>',
      );
      req.resume();
      return;
    }
    const urlPath = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (req.method === 'GET' && truncate.has(urlPath)) {
      res.writeHead(200, { 'content-length': '1000', 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(500, 7));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (req.method === 'PUT') puts.push(urlPath);
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    ...credentials,
    dir,
    puts,
    truncate,
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      s3rver.logger?.close?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
