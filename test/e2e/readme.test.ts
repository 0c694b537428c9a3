/**
 * The README documents every flag of both programs with its default and its environment
 * variable, so the two cannot drift apart.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { envName, type FlagSpec } from '../../shared/index.js';
import * as agent from '../../agent/config.js';
import * as collector from '../../collector/config.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`### ${title}`);
  expect(start, `README section ${title}`).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start);
  return readme.slice(start, end < 0 ? undefined : end);
}

function defaultOf(defaults: object, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults);
}

describe.each([
  { prog: 'kubepulse-collector', flags: collector.FLAGS, defaults: collector.DEFAULT_CONFIG as object, prefix: collector.ENV_PREFIX },
  { prog: 'kubepulse-agent', flags: agent.FLAGS, defaults: agent.defaultConfig() as object, prefix: agent.ENV_PREFIX },
])('README documents $prog', ({ prog, flags, defaults, prefix }) => {
  it.each(flags.map((f: FlagSpec) => ({ flag: f.flag, f })))('--$flag', ({ f }) => {
    const text = section(prog);
    const row = text.split('\n').find((l) => l.startsWith(`| \`--${f.flag}\``) || l.startsWith(`| \`--help\`, \`--${f.flag}`) || l.includes(`, \`--${f.flag}\` |`));
    expect(row, `a row for --${f.flag}`).toBeDefined();
    if (!f.key || f.key === 'config') return;
    expect(row).toContain(`\`${f.key}\``);
    expect(row).toContain(envName(f, prefix));
    const def = defaultOf(defaults, f.key);
    if (typeof def === 'string' && def !== '' && f.flag !== 'node-name') expect(row).toContain(`\`${def}\``);
    if (typeof def === 'number') expect(row).toContain(`\`${def}\``);
  });
});
