import { Command, CommanderError } from 'commander';
import { register as data } from './data';
import { register as bench } from './bench';
import { register as checkEnv } from './check-env';
import { register as checkOps } from './check-ops';
import { register as train } from './train';
import { register as experiments } from './experiments';
import { register as eda } from './eda';
import { register as report } from './report';
import { register as predict } from './predict';
import { register as exportModel } from './export';
import { register as sweep } from './sweep';
import { register as worker } from './worker';

// one file per command; each adds itself to the program
const commands: Array<(program: Command) => void> = [
  data,
  bench,
  checkEnv,
  checkOps,
  train,
  experiments,
  eda,
  report,
  predict,
  exportModel,
  sweep,
  worker,
];

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('cudalab')
    .description('CIFAR-10 deep-learning lab on our own CUDA and C++ kernels')
    .version(require('../../package.json').version)
    .showHelpAfterError()
    // a command's options are its own: `sweep status NAME --redis URL` is the
    // subcommand's --redis, not sweep's (each command has its own --help)
    .enablePositionalOptions()
    // throw instead of exiting, so main() sets the exit code; subcommands
    // inherit this only when it is set before they are created
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors exit 2, as the shell convention has it
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const e = err as Error & { code?: string };
    process.stderr.write(`cudalab: ${e.message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
