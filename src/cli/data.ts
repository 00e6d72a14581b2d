import { Command } from 'commander';
import { registerDataDownload } from './data-download';
import { registerDataVersioning } from './data-dvc';

// `cudalab data ...`: getting the data set (download) and versioning it the
// way DVC does (add, push, pull, status)
export function register(program: Command): void {
  const data = program
    .command('data')
    .description('get CIFAR-10 and version it with DVC-compatible files on S3');
  registerDataDownload(data);
  registerDataVersioning(data);
}
