#!/usr/bin/env node
// Collects every benchmark's figures (test/bench/results/<area>.md, written by
// `npm run bench`) into test/bench/RESULTS.md.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'test', 'bench', 'results');
const order = ['tsdb', 'load', 'promql', 'alerting', 'node', 'pods', 'sampler', 'kube'];
const files = readdirSync(dir).filter((f) => f.endsWith('.md'));
files.sort((a, b) => (order.indexOf(a.slice(0, -3)) + 100) % 100 - (order.indexOf(b.slice(0, -3)) + 100) % 100 || a.localeCompare(b));
const parts = [
  '# Benchmark results',
  '',
  'Every figure below comes from `npm run bench` (`vitest run --config vitest.bench.config.ts`,',
  'then `node scripts/bench-results.mjs` to collect them here) on the project machine: 2 cores,',
  '24 GiB, shared with other work, so absolute times are noisy; the ratios against the peer',
  'measured in the same run are the figures to compare. Each section names its own command',
  'and date.',
  '',
];
for (const f of files) {
  parts.push(readFileSync(join(dir, f), 'utf8').trim().replace(/^# /, '## '), '');
}
writeFileSync(join(root, 'test', 'bench', 'RESULTS.md'), parts.join('\n'));
console.log(`test/bench/RESULTS.md: ${files.length} sections`);
