import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../agent/config.js';
import { loadCollectorConfig } from '../collector/config.js';
import { ConfigError } from './errors.js';

function tmpFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kp-config-'));
  const p = join(dir, 'config.yaml');
  writeFileSync(p, text);
  return p;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('applies defaults, then the file, then the environment, then flags', () => {
    const file = tmpFile('interval: 20s\ncluster: from-file\nnode_name: file-node\nshipper:\n  max_backoff: 1m\n');
    const { config } = loadAgentConfig(['--config', file, '--interval', '30s'], { KUBEPULSE_AGENT_CLUSTER: 'from-env', NODE_NAME: 'env-node' });
    expect(config.interval).toBe('30s');
    expect(config.cluster).toBe('from-env');
    expect(config.node_name).toBe('env-node');
    expect(config.shipper.max_backoff).toBe('1m');
    expect(config.shipper.min_backoff).toBe('500ms');
    expect(Object.isFrozen(config.shipper)).toBe(true);
  });

  it.each([
    { name: 'unknown flag', argv: ['--colector-url', 'http://x'], file: '', want: 'unknown flag --colector-url' },
    { name: 'bad duration flag', argv: ['--interval', '10 seconds'], file: '', want: 'key "interval": value "10 seconds" is invalid: expected a duration' },
    { name: 'unknown file key', argv: [], file: 'shipper:\n  max_retries: 3\n', want: 'unknown key "shipper.max_retries"' },
    { name: 'wrong type in file', argv: [], file: 'shipper:\n  max_queue_batches: many\n', want: 'key "shipper.max_queue_batches": value "many" is invalid: expected a value of type integer' },
    { name: 'bad url', argv: ['--collector-url', 'not a url'], file: '', want: 'key "collector_url": value "not a url" is invalid: expected a url' },
    { name: 'bad log level', argv: ['--log-level', 'loud'], file: '', want: 'key "log_level": value "loud" is invalid: expected one of "trace"' },
    { name: 'timeout over interval', argv: ['--interval', '5s', '--scrape-timeout', '6s'], file: '', want: 'key "scrape_timeout": value "6s" is invalid: expected at most the interval (5s)' },
    { name: 'flag without value', argv: ['--interval'], file: '', want: 'flag --interval needs a value' },
  ])('refuses $name naming key, value and expectation', ({ argv, file, want }) => {
    const args = file ? ['--config', tmpFile(file), ...argv] : argv;
    expect(problems(() => loadAgentConfig(args, {})).join('\n')).toContain(want);
  });

  it('reports every problem at once', () => {
    const p = problems(() => loadCollectorConfig(['--listen', 'nowhere', '--retention', 'forever', '--nope'], {}));
    expect(p).toHaveLength(3);
  });

  it('refuses a config file that does not exist, naming it', () => {
    expect(problems(() => loadCollectorConfig(['--config', '/nonexistent/kp.yaml'], {})).join()).toContain('/nonexistent/kp.yaml');
  });

  it('refuses a bad environment value naming the variable', () => {
    expect(problems(() => loadCollectorConfig([], { KUBEPULSE_COLLECTOR_MAX_BODY_BYTES: 'lots' })).join()).toContain('environment variable KUBEPULSE_COLLECTOR_MAX_BODY_BYTES: "lots" is not a number');
  });
});
