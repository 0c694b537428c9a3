/**
 * The whole pipeline as a user runs it: a real host-mode agent samples this machine and
 * pushes to a collector; a rule over the agent's node series fires and the webhook
 * receiver gets the Alertmanager-format notification, labelled with the agent's node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, type Collector } from '../../collector/main.js';
import { loadCollectorConfig } from '../../collector/config.js';
import { startAgent, type Agent } from '../../agent/main.js';
import { loadAgentConfig } from '../../agent/config.js';
import { noopLogger } from '../../shared/index.js';
import { TestReceiver } from '../alerting/receiver.js';

describe('agent → collector → rule → webhook', () => {
  let dir: string;
  let collector: Collector;
  let agent: Agent;
  const receiver = new TestReceiver();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-pipeline-'));
    await receiver.start();
    writeFileSync(
      join(dir, 'rules.yaml'),
      `groups:
  - name: pipeline
    interval: 1s
    rules:
      - alert: NodeReporting
        expr: node_memory_MemTotal_bytes{job="node-exporter"} > 0
        annotations:
          summary: "{{ $labels.node }} has {{ $value | humanize1024 }}B of memory"
`,
    );
    const configFile = join(dir, 'collector.yaml');
    writeFileSync(
      configFile,
      `listen: 127.0.0.1:0
data_dir: ${join(dir, 'data')}
rule_files: [rules.yaml]
default_rules: { enabled: false }
alerting:
  route: { receiver: hooks, group_by: [alertname], group_wait: 0s, group_interval: 1s }
  receivers:
    - name: hooks
      webhook_configs: [{ url: '${receiver.url}/hook' }]
`,
    );
    collector = await startCollector(loadCollectorConfig(['--config', configFile], {}).config, noopLogger(), { configFile });
    const { config } = loadAgentConfig(
      ['--collector-url', collector.url, '--listen', '127.0.0.1:0', '--interval', '1s', '--node-name', 'pipeline-node', '--cluster', 'e2e', '--spool-dir', join(dir, 'spool'), '--kube-api', 'off'],
      {},
    );
    agent = await startAgent(config, noopLogger());
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await collector?.stop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the notification for the agent\'s node', async () => {
    const got = await receiver.waitFor(1, 20_000);
    expect(got.length).toBeGreaterThan(0);
    const body = got[0].json as { status: string; alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }> };
    expect(body.status).toBe('firing');
    expect(body.alerts[0].labels).toMatchObject({ alertname: 'NodeReporting', node: 'pipeline-node', instance: 'pipeline-node', cluster: 'e2e', job: 'node-exporter' });
    expect(body.alerts[0].annotations.summary).toMatch(/^pipeline-node has [\d.]+[KMGT]iB of memory$/);
  }, 30_000);
});
