#!/usr/bin/env node
// npm test: every check and every test, in order of speed — lint, types, unit
// tests (vitest, Node), browser tests (Playwright, Chromium) — then one summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const steps = [
  ['lint', 'npx', ['biome', 'check', '.']],
  ['types', 'npx', ['tsc', '--noEmit', '-p', '.']],
  // No two modules import each other, directly or around a loop (type-only imports count too).
  ['cycles', 'npx', ['dpdm', '--no-warning', '--no-tree', '--exit-code', 'circular:1', 'src/**/*.ts']],
  // The committed wasm must be what its AssemblyScript source builds to.
  ['wasm', 'node', ['scripts/build-wasm.mjs', '--check']],
  // And the committed tiny model what its generator makes.
  ['tiny-model', 'node', ['scripts/make-tiny-model.mjs', '--check']],
  ['icons', 'node', ['scripts/make-icons.mjs', '--check']],
  ['unit', 'npx', ['vitest', 'run']],
  ['browser', 'npx', ['playwright', 'test']],
];
const only = process.argv.slice(2);
let failedStep = null;
rmSync('test-results/unit.json', { force: true });
rmSync('test-results/e2e.json', { force: true });
for (const [name, cmd, args] of steps) {
  if (only.length && !only.includes(name)) continue;
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    failedStep = name;
    console.error(`✖ ${name} failed (exit ${r.status})`);
    if (
      name === 'lint' ||
      name === 'types' ||
      name === 'cycles' ||
      name === 'wasm' ||
      name === 'tiny-model' ||
      name === 'icons'
    )
      break;
  }
}

const read = (f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);
let passed = 0;
let failed = 0;
let skipped = 0;
const unit = read('test-results/unit.json');
if (unit) {
  passed += unit.numPassedTests;
  failed += unit.numFailedTests;
  skipped += unit.numPendingTests + unit.numTodoTests;
}
const e2e = read('test-results/e2e.json');
if (e2e) {
  passed += e2e.stats.expected + e2e.stats.flaky;
  failed += e2e.stats.unexpected;
  skipped += e2e.stats.skipped;
}
if (failedStep && failed === 0) failed = 1; // a step that failed without counting a test still fails
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failedStep || failed ? 1 : 0);
