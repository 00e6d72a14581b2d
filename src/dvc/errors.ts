// one error type for everything the data-versioning commands reject: bad
// input files, missing or corrupted objects, remote failures. the message
// names the file, object or remote and what was expected; it never carries
// credentials (see remote-s3.ts, which scrubs them).
export class DvcError extends Error {
  readonly code = 'ERR_DVC';
  constructor(message: string) {
    super(message);
    this.name = 'DvcError';
  }
}
