#!/usr/bin/env node
// The published entry point: the compiled CLI lives in dist/ (built by `npm install` via `prepare`).
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    console.error('atoll: the CLI is not built yet; run `npm run build` (npm install does it for you).');
    process.exit(1);
  }
  throw err;
});
