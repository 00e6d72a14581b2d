// one error type for everything the data-versioning commands reject: bad
// input files, missing or corrupted objects, remote failures. the message
// names the file, object or remote and what was expected; it never carries
// credentials (see remote-s3.ts, which scrubs them). `code` is stable so
// callers can tell the cases apart without reading the message.

export type DvcErrorCode =
  | 'ERR_DVC' // a bad .dvc file, config, manifest or object, or a failed transfer
  | 'ERR_DVC_OUTSIDE_REPO' // a path that resolves outside the repository (symbolic links followed)
  | 'ERR_DVC_UNKNOWN_REMOTE'; // a remote name that no config defines

export class DvcError extends Error {
  readonly code: DvcErrorCode;

  constructor(message: string, code: DvcErrorCode = 'ERR_DVC') {
    super(message);
    this.name = 'DvcError';
    this.code = code;
  }
}
