// the error the data layer throws on bad input: a file (or URL) that is not
// what it should be. it names the file, the byte offset where it went wrong
// when there is one, and what was expected, so a person can go and look.

export type DataErrorCode =
  | 'ERR_DATA' // a file that does not parse or holds the wrong thing
  | 'ERR_DATA_MISSING' // the data set (or one of its files) is not there
  | 'ERR_DATA_ACCESS' // it may be there but cannot be read: permissions, a file where a folder should be
  | 'ERR_DOWNLOAD' // the transfer failed: HTTP status, cut connection, timeout
  | 'ERR_CHECKSUM'; // the download arrived whole but its md5 is not the expected one

export interface DataErrorDetails {
  /** the file (or URL) at fault */
  file: string;
  /** what the file should have held */
  expected: string;
  /** what it held instead, when that helps */
  got?: string;
  /** byte offset in the file where the problem is */
  offset?: number;
  code?: DataErrorCode;
  /** a line of advice appended to the message */
  hint?: string;
  cause?: unknown;
}

export class DataError extends Error {
  readonly code: DataErrorCode;
  readonly file: string;
  readonly offset: number | undefined;
  readonly expected: string;
  readonly got: string | undefined;

  constructor(d: DataErrorDetails) {
    const at = d.offset === undefined ? '' : ` at byte ${d.offset}`;
    const got = d.got === undefined ? '' : `, got ${d.got}`;
    const hint = d.hint === undefined ? '' : `\n${d.hint}`;
    super(`${d.file}${at}: expected ${d.expected}${got}${hint}`, d.cause === undefined ? undefined : { cause: d.cause });
    this.name = 'DataError';
    this.code = d.code ?? 'ERR_DATA';
    this.file = d.file;
    this.offset = d.offset;
    this.expected = d.expected;
    this.got = d.got;
  }
}
