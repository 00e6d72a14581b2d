#!/usr/bin/env node
'use strict';
// the compiled program lives in dist/ (built by `npm install` / `npm run build`)
require('../dist/cli/index.js').main(process.argv);
