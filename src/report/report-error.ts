// a report cannot be made from its input: `file` names what was wrong (a
// folder, or a file and line), and the message says what was expected
export type ReportErrorCode = 'ERR_NO_RUNS' | 'ERR_RUNS_DIR' | 'ERR_METRICS' | 'ERR_RUN_FILE';

export class ReportError extends Error {
  readonly code: ReportErrorCode;
  constructor(code: ReportErrorCode, readonly file: string, message: string) {
    super(message);
    this.name = 'ReportError';
    this.code = code;
  }
}
