// run.mjs: runs the web sandbox's browser tests with node:test and ends
// with one summary line (scripts/test.sh shows it in CI):
//   web sandbox (headless Chromium): N passed, M failed
// Exit status 1 when any test failed.
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const files = [path.join(here, 'web.test.mjs')];
let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: 1, timeout: 10 * 60 * 1000 });
stream.on('test:pass', (t) => { if (t.details && t.details.type !== 'suite') passed++; });
stream.on('test:fail', (t) => { if (t.details && t.details.type !== 'suite') failed++; });
const out = stream.compose(spec);
out.pipe(process.stdout);
out.on('end', () => {
  console.log(`web sandbox (headless Chromium): ${passed} passed, ${failed} failed`);
  process.exitCode = failed || !passed ? 1 : 0;
});
