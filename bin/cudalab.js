#!/usr/bin/env node
'use strict';
// a reader that stops early (`cudalab train --help | head`) closes the pipe:
// that ends the output, not the program with a stack trace
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
// the compiled program lives in dist/ (built by `npm install` / `npm run build`)
require('../dist/cli/index.js').main(process.argv);
