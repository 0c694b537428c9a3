/**
 * Runs every promqltest script of Prometheus's own suite (fixtures/promql/prometheus-
 * promqltest) against our engine and fails when a file's pass count drops below the
 * recorded baseline (promqltest-baseline.json). Set PROMQLTEST_VERBOSE=1 to print every
 * failing case; PROMQLTEST_WRITE_BASELINE=1 rewrites the baseline with today's counts.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../collector/promql/index.js';
import { fixture } from '../helpers/paths.js';
import type { CaseResult } from './promqltest.js';
import { CASE_SKIPS, FILE_SKIPS, runScript } from './promqltest.js';

const DIR = fixture('promql', 'prometheus-promqltest');
const BASELINE_FILE = join(import.meta.dirname, 'promqltest-baseline.json');
const baseline = JSON.parse(readFileSync(BASELINE_FILE, 'utf8')) as Record<string, { pass: number }>;
const files = readdirSync(DIR).filter((f) => f.endsWith('.test')).sort();

// The fixture scripts track Prometheus 3.x (left-open lookback and range windows).
const engine = new Engine({ compat: 'v3' });

interface FileSummary {
  pass: number;
  fail: number;
  skip: number;
  total: number;
  skipReasons: Record<string, number>;
}

function summarize(rs: CaseResult[]): FileSummary {
  const s: FileSummary = { pass: 0, fail: 0, skip: 0, total: rs.length, skipReasons: {} };
  for (const r of rs) {
    s[r.status]++;
    if (r.status === 'skip') s.skipReasons[r.reason ?? ''] = (s.skipReasons[r.reason ?? ''] ?? 0) + 1;
  }
  return s;
}

describe('promqltest conformance (Prometheus testdata)', () => {
  const summaries: Record<string, FileSummary> = {};
  it.each(files)('%s', async (file) => {
    const results = await runScript(readFileSync(join(DIR, file), 'utf8'), engine, FILE_SKIPS[file], CASE_SKIPS[file]);
    const s = summarize(results);
    summaries[file] = s;
    const ran = s.pass + s.fail;
    const rate = ran ? ((100 * s.pass) / ran).toFixed(1) : '-';
    console.log(`${file}: ${s.pass}/${ran} pass (${rate}%), ${s.skip} skipped ${JSON.stringify(s.skipReasons)}`);
    if (process.env.PROMQLTEST_VERBOSE) {
      for (const r of results) if (r.status === 'fail') console.log(`  FAIL ${file}:${r.line} ${r.expr}\n       ${r.reason}`);
    }
    expect(s.pass, `${file}: pass count regressed below the baseline`).toBeGreaterThanOrEqual(baseline[file]?.pass ?? 0);
  });

  it('covers every fixture file in the baseline', () => {
    if (process.env.PROMQLTEST_WRITE_BASELINE) {
      const out: Record<string, { pass: number; fail: number; skip: number }> = {};
      for (const f of files) out[f] = { pass: summaries[f].pass, fail: summaries[f].fail, skip: summaries[f].skip };
      writeFileSync(BASELINE_FILE, JSON.stringify(out, null, 2) + '\n');
    }
    expect(Object.keys(baseline).sort()).toEqual(files);
  });
});
