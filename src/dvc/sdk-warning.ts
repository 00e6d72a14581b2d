// the AWS SDK warns, through process.emitWarning, when node is older than
// what its future releases will need: nine lines, on every push, pull and
// status. while a data command runs, that one warning is condensed to a line
// and printed at most once; every other warning goes through untouched.

// the SDK's text starts with a name like NodeVersionSupportWarning (see
// emitWarningIfUnsupportedVersion in @aws-sdk/core; older releases said
// NodeDeprecationWarning) and names the SDK
const SDK_NODE_VERSION_WARNING = /^Node\w*Warning:[\s\S]*AWS SDK for JavaScript/;
const WARNING_NAME = /^Node\w*Warning:\s*/;

function messageOf(warning: string | Error): string {
  return typeof warning === 'string' ? warning : warning.message;
}

/** the SDK's warning in one line: "... will require node >=22; this is node v20.20.2" */
export function condenseSdkNodeWarning(text: string): string {
  const required = /require node (>=\s*\d+(?:\.\d+)*)/.exec(text)?.[1]?.replace(/\s+/g, '');
  const running = /running node (v[\d.]+\d)/.exec(text)?.[1];
  const after = /published after ([^\n.]+?)\s+will require/.exec(text.replace(/\s+/g, ' '))?.[1];
  if (required && running) {
    return `the AWS SDK's releases${after ? ` after ${after}` : ''} will require node ${required}; this is node ${running}`;
  }
  // a wording we do not know: all of it, on one line
  return text.replace(WARNING_NAME, '').replace(/\s+/g, ' ').trim();
}

/**
 * runs a command with the SDK's node-version warning condensed to one line on
 * `sink` (stderr), printed at most once; restores process.emitWarning after
 */
export async function withSdkNodeWarningCondensed<T>(run: () => Promise<T>, sink: { write(text: string): unknown } = process.stderr): Promise<T> {
  const original = process.emitWarning;
  let printed = false;
  const replacement = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (SDK_NODE_VERSION_WARNING.test(messageOf(warning))) {
      if (!printed) sink.write(`cudalab: warning: ${condenseSdkNodeWarning(messageOf(warning))}\n`);
      printed = true;
      return;
    }
    return (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  };
  process.emitWarning = replacement as typeof process.emitWarning;
  try {
    return await run();
  } finally {
    // only undo our own replacement, in case something replaced it meanwhile
    if (process.emitWarning === replacement) process.emitWarning = original;
  }
}
