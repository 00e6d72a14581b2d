// an S3 remote, as DVC lays one out under its url s3://bucket/prefix:
//   DVC 3 objects:  <prefix>/files/md5/<2 hex>/<30 hex>
//   DVC 2 objects:  <prefix>/<2 hex>/<30 hex>
// credentials come from the remote's config (access_key_id and
// secret_access_key, or profile), otherwise from the AWS SDK's default chain
// (environment, shared config files, instance roles). they never appear in a
// message: every error is rewritten here, with the configured secrets
// scrubbed out.
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Readable } from 'stream';
import { objectRelPath } from './cache';
import { RemoteConfig } from './config';
import { DvcError } from './errors';

interface SdkError extends Error {
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export class S3Remote {
  readonly client: S3Client;

  constructor(readonly config: RemoteConfig) {
    if (!!config.accessKeyId !== !!config.secretAccessKey) {
      throw new DvcError(`remote '${config.name}': access_key_id and secret_access_key must be set together`);
    }
    const options: S3ClientConfig = {
      // a region is needed to sign; S3-compatible servers accept any
      region: config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (config.profile || process.env.AWS_PROFILE ? undefined : 'us-east-1'),
      followRegionRedirects: true,
      // checksums only where S3 requires them: many S3-compatible servers
      // reject the SDK's newer default trailers
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    };
    if (config.endpointUrl) {
      options.endpoint = config.endpointUrl;
      // bucket-in-path addressing works on every S3-compatible server
      options.forcePathStyle = true;
    }
    if (config.accessKeyId && config.secretAccessKey) {
      options.credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, sessionToken: config.sessionToken };
    } else if (config.profile) {
      options.profile = config.profile;
    }
    this.client = new S3Client(options);
  }

  /** "remote 'storage' (s3://bucket/path)", for messages */
  describe(): string {
    const endpoint = this.config.endpointUrl ? ` at ${this.config.endpointUrl.replace(/\/\/[^/@]*@/, '//')}` : '';
    return `remote '${this.config.name}' (${this.config.url}${endpoint})`;
  }

  key(oid: string, legacy: boolean): string {
    const base = this.config.prefix ? `${this.config.prefix}/` : '';
    return `${base}${legacy ? '' : 'files/md5/'}${objectRelPath(oid)}`;
  }

  /**
   * checks the bucket exists and the credentials work, so that later "not
   * found" answers mean a missing object, not a missing bucket. a server
   * that refuses listing (AccessDenied) is not an error here: some policies
   * allow reading and writing objects only.
   */
  async checkAccess(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: this.config.prefix, MaxKeys: 1 }));
    } catch (err) {
      const e = err as SdkError;
      if (errorCode(e) === 'AccessDenied') return;
      throw this.error(e, 'listing the bucket');
    }
  }

  /** the object's size on the remote, or null when it is not there */
  async size(oid: string, legacy: boolean): Promise<number | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.key(oid, legacy) }));
      return res.ContentLength ?? 0;
    } catch (err) {
      const e = err as SdkError;
      if (e.$metadata?.httpStatusCode === 404 || errorCode(e) === 'NotFound' || errorCode(e) === 'NoSuchKey') return null;
      throw this.error(e, `checking ${this.key(oid, legacy)}`);
    }
  }


  async put(oid: string, legacy: boolean, body: Buffer | Readable, size: number, contentMd5Base64: string): Promise<void> {
    const key = this.key(oid, legacy);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.config.bucket, Key: key, Body: body, ContentLength: size, ContentMD5: contentMd5Base64 }),
      );
    } catch (err) {
      throw this.error(err as SdkError, `uploading ${key}`);
    }
  }

  /** the object's byte stream and announced length, or null when it is missing */
  async get(oid: string, legacy: boolean): Promise<{ body: Readable; length?: number } | null> {
    const key = this.key(oid, legacy);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
      if (!res.Body) throw new DvcError(`${this.describe()}: ${key} came back without a body`);
      return { body: res.Body as Readable, length: res.ContentLength };
    } catch (err) {
      const e = err as SdkError;
      if (err instanceof DvcError) throw err;
      if (errorCode(e) === 'NoSuchKey' || (e.$metadata?.httpStatusCode === 404 && errorCode(e) !== 'NoSuchBucket')) return null;
      throw this.error(e, `downloading ${key}`);
    }
  }

  /** turns an SDK failure into a message that says what to fix, minus any secret */
  error(err: SdkError, action: string): DvcError {
    const code = errorCode(err);
    const status = err.$metadata?.httpStatusCode;
    const where = this.describe();
    let message: string;
    if (code === 'NoSuchBucket') {
      message = `${where}: bucket '${this.config.bucket}' does not exist`;
    } else if (code === 'InvalidAccessKeyId') {
      message = `${where}: the server does not know this access key id; check the remote's credentials (${action})`;
    } else if (code === 'SignatureDoesNotMatch') {
      message = `${where}: the request signature was rejected, the secret access key is wrong; check the remote's credentials (${action})`;
    } else if (code === 'AccessDenied' || status === 403) {
      message = `${where}: access denied (${action}); check the credentials and the bucket's permissions`;
    } else if (err.name === 'CredentialsProviderError' || /could not load credentials/i.test(err.message)) {
      message = `${where}: no AWS credentials found; set access_key_id and secret_access_key (or profile) for the remote in .dvc/config.local, or use the AWS environment variables or shared config`;
    } else if (/region is missing/i.test(err.message)) {
      message = `${where}: no AWS region; set 'region' for the remote or AWS_REGION`;
    } else if (['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'TimeoutError'].includes(code)) {
      message = `${where}: cannot reach the server (${code}) while ${action}`;
    } else {
      message = `${where}: ${action} failed: ${code || err.name}${err.message && err.message !== code ? `: ${err.message}` : ''}${status ? ` (HTTP ${status})` : ''}`;
    }
    return new DvcError(this.scrub(message));
  }

  /** removes configured credentials from a text */
  scrub(text: string): string {
    let out = text;
    for (const secret of [this.config.secretAccessKey, this.config.sessionToken, this.config.accessKeyId]) {
      if (secret && secret.length >= 4) out = out.split(secret).join('***');
    }
    return out;
  }

  destroy(): void {
    this.client.destroy();
  }
}

function errorCode(err: SdkError): string {
  return err.Code ?? (err.name && err.name !== 'Error' ? err.name : err.code) ?? '';
}
