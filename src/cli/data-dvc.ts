import { Command, InvalidArgumentError } from 'commander';
import path from 'path';
import { addPath } from '../dvc/add';
import { parseJobs } from '../dvc/pool';
import { openRepo } from '../dvc/repo';
import { withSdkNodeWarningCondensed } from '../dvc/sdk-warning';

// push, pull and status load the AWS SDK (large, slow to load): only when one of them runs
const remoteCommands = () => Promise.all([import('../dvc/push'), import('../dvc/pull'), import('../dvc/status')])
  .then(([push, pull, status]) => ({ push: push.push, pull: pull.pull, status: status.status, formatStatus: status.formatStatus }));

// `cudalab data add | push | pull | status`: DVC-compatible versioning of the
// data set. the files these write (.dvc files, .dvc/cache, the remote's
// layout) are the ones DVC 3 writes, so `dvc` itself can take over at any time.

const REPO_HELP = 'run as if started in DIR (like git -C): the repository is found from there, and paths are relative to it';
const REMOTE_HELP = "remote name from .dvc/config (default: [core] remote, or the output's own 'remote')";
const JOBS_HELP = 'objects transferred in parallel (1-256)';

// a bad --jobs is a usage error (exit 2), reported before anything runs
function jobsOption(value: string): number {
  try {
    return parseJobs(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function where(opts: { repo?: string }): string {
  return path.resolve(opts.repo ?? '.');
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function registerDataVersioning(data: Command): void {
  data
    .command('add')
    .description('track files or directories: cache their content, write <path>.dvc, and list them in .gitignore')
    .argument('<paths...>', 'files or directories inside the repository')
    .option('-C, --repo <dir>', REPO_HELP)
    .addHelpText('after', '\nThen commit <path>.dvc and .gitignore with git, and run `cudalab data push`.')
    .action(async (paths: string[], opts: { repo?: string }) => {
      const cwd = where(opts);
      const repo = openRepo(cwd);
      for (const p of paths) {
        const result = await addPath(repo, p, { cwd });
        const { out } = result;
        const what = out.nfiles !== undefined ? `${out.nfiles} files, ${mb(out.size ?? 0)}` : mb(out.size ?? 0);
        process.stdout.write(`added ${p} (${what}) as ${out.md5}\n  wrote ${result.dvcFile}\n  listed it in ${result.gitignore}\n`);
      }
    });

  data
    .command('push')
    .description('upload the cached data of tracked outputs to the remote (files first, directory manifests last)')
    .argument('[targets...]', '.dvc files or tracked paths (default: every .dvc file in the repository)')
    .option('-r, --remote <name>', REMOTE_HELP)
    .option('-j, --jobs <n>', JOBS_HELP, jobsOption, 4)
    .option('-C, --repo <dir>', REPO_HELP)
    .action(async (targets: string[], opts: { remote?: string; jobs: number; repo?: string }) => {
      const cwd = where(opts);
      const { push } = await remoteCommands();
      const r = await withSdkNodeWarningCondensed(() => push(openRepo(cwd), targets, { remote: opts.remote, jobs: opts.jobs, cwd }));
      process.stdout.write(`pushed ${r.uploaded} object(s), ${mb(r.bytes)}; ${r.alreadyOnRemote} already on the remote (${r.outputs} output(s))\n`);
    });

  data
    .command('pull')
    .description('fetch tracked outputs from the remote, verify every object, and check them out into the workspace')
    .argument('[targets...]', '.dvc files or tracked paths (default: every .dvc file in the repository)')
    .option('-r, --remote <name>', REMOTE_HELP)
    .option('-j, --jobs <n>', JOBS_HELP, jobsOption, 4)
    .option('-f, --force', 'overwrite workspace files that differ from their .dvc files')
    .option('-C, --repo <dir>', REPO_HELP)
    .action(async (targets: string[], opts: { remote?: string; jobs: number; force?: boolean; repo?: string }) => {
      const cwd = where(opts);
      const { pull } = await remoteCommands();
      const r = await withSdkNodeWarningCondensed(() => pull(openRepo(cwd), targets, { remote: opts.remote, jobs: opts.jobs, force: !!opts.force, cwd }));
      process.stdout.write(`fetched ${r.fetched} object(s), ${mb(r.bytes)}; checked out ${r.checkedOut} file(s), ${r.upToDate} already up to date\n`);
    });

  data
    .command('status')
    .description('show which tracked outputs are missing or modified in the workspace, and which objects the cache and the remote lack')
    .argument('[targets...]', '.dvc files or tracked paths (default: every .dvc file in the repository)')
    .option('-r, --remote <name>', REMOTE_HELP)
    .option('-l, --local', 'check only the workspace and the cache, not the remote')
    .option('-j, --jobs <n>', JOBS_HELP, jobsOption, 8)
    .option('-C, --repo <dir>', REPO_HELP)
    .addHelpText('after', '\nThe remote is checked when one is named or configured as the default.')
    .action(async (targets: string[], opts: { remote?: string; local?: boolean; jobs: number; repo?: string }) => {
      const cwd = where(opts);
      const { status, formatStatus } = await remoteCommands();
      const results = await withSdkNodeWarningCondensed(() => status(openRepo(cwd), targets, { remote: opts.remote, local: !!opts.local, jobs: opts.jobs, cwd }));
      process.stdout.write(formatStatus(results));
    });
}
