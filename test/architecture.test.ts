/**
 * The data flow of DESIGN.md as import rules: a scan of every source file's imports.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { REPO_ROOT } from './helpers/paths.js';

function files(dir: string): string[] {
  const out: string[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.includes('/testdata/')) out.push(p);
  }
  return out;
}

/** Relative import targets of a file, as repo-relative paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    out.push(spec.startsWith('.') ? relative(REPO_ROOT, resolve(dirname(file), spec)) : `npm:${spec}`);
  }
  return out;
}

interface Rule {
  from: string;
  forbidden: RegExp;
  why: string;
}

const RULES: Rule[] = [
  { from: 'shared', forbidden: /^(agent|collector|test)\//, why: 'shared/ is used by both programs and imports neither' },
  { from: 'agent', forbidden: /^(collector|test)\//, why: 'the agent never imports the collector' },
  { from: 'collector', forbidden: /^(agent|test)\//, why: 'the collector never imports the agent' },
  { from: 'collector/promql', forbidden: /^collector\/(tsdb|web|rules|notifier|ingest|kube)\//, why: 'PromQL reads through the storage interfaces only' },
  { from: 'collector/web', forbidden: /^collector\/tsdb\//, why: 'the web layer never reaches into the TSDB' },
  { from: 'collector/notifier', forbidden: /^collector\/rules\//, why: 'the notifier knows nothing of rules' },
  // The rules' HTTP plugin may use the API envelope (a format helper), not the server.
  { from: 'collector/rules', forbidden: /^collector\/(tsdb|ingest)\/|^collector\/web\/(?!api-envelope)/, why: 'rules reach out only via QueryFunc, NotifyFunc and Appendable' },
  { from: 'collector/storage', forbidden: /^collector\/(?!storage\/)/, why: 'storage holds interfaces only' },
  { from: 'collector/ingest', forbidden: /^collector\/tsdb\//, why: 'ingest appends through Appendable' },
];

describe('import rules of the design', () => {
  it.each(RULES)('$from: $why', ({ from, forbidden }) => {
    const bad: string[] = [];
    for (const f of files(join(REPO_ROOT, from))) {
      for (const target of imports(f)) if (forbidden.test(target)) bad.push(`${relative(REPO_ROOT, f)} → ${target}`);
    }
    expect(bad).toEqual([]);
  });

  it('only the TSDB and the collector\'s own state stores use better-sqlite3; the agent never does', () => {
    const users: string[] = [];
    for (const f of [...files(join(REPO_ROOT, 'agent')), ...files(join(REPO_ROOT, 'shared'))]) {
      if (imports(f).includes('npm:better-sqlite3')) users.push(relative(REPO_ROOT, f));
    }
    expect(users).toEqual([]);
  });

  it.each([
    ['@kubernetes/client-node', 'its import costs 55–60 MB (test/bench/results/agent-rss.md); only a kubeconfig with an exec plugin or auth provider loads it, on demand'],
    ['prom-client', 'the agent has its own small registry (agent/metrics-registry.ts): prom-client alone costs about 5 MB (test/bench/results/agent-rss.md)'],
  ])('the agent never imports %s eagerly: %s', (pkg) => {
    const eager: string[] = [];
    const re = new RegExp(`^\\s*(?:import|export)\\s+(?!type\\s)[^;]*?from\\s+['"]${pkg.replace(/[/]/g, '\\/')}['"]`, 'm');
    for (const f of [...files(join(REPO_ROOT, 'agent')), ...files(join(REPO_ROOT, 'shared'))]) {
      // Type-only imports are erased; a dynamic import() runs only when reached.
      if (re.test(readFileSync(f, 'utf8'))) eager.push(relative(REPO_ROOT, f));
    }
    expect(eager).toEqual([]);
  });
});
