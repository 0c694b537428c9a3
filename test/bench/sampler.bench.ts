/**
 * The agent's hot path without I/O: one tick of a busy node's worth of series through
 * the Sampler, then the remote_write encoding of the batch. CPU per tick is what the
 * pods benchmark found dominant (the sources themselves are measured in pods/node).
 */
import { describe, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sampler } from '../../agent/sampler.js';
import type { Source } from '../../agent/sources/source.js';
import { encodeWriteRequestBody } from '../../shared/index.js';
import { REPO_ROOT } from '../helpers/paths.js';

const PODS = 110;
const CONTAINERS_PER_POD = 2.3;
const FAMILIES = 45;

function busyNode(): Source {
  const containers: Array<Record<string, string>> = [];
  for (let p = 0; p < PODS; p++) {
    const n = p % 10 < 3 ? 3 : 2;
    for (let c = 0; c < n; c++) {
      containers.push({ namespace: `ns-${p % 12}`, pod: `workload-${p}-7d9f8c6b5-x${p}`, container: `c${c}`, image: `registry.example.com/team/app-${p % 20}:v1.${c}`, id: `/kubepods/burstable/pod${p}/${'a'.repeat(64)}` });
    }
  }
  void CONTAINERS_PER_POD;
  return {
    name: 'bench',
    targetLabels: { job: 'kubelet', metrics_path: '/metrics/cadvisor' },
    collect(sink) {
      for (let f = 0; f < FAMILIES; f++) {
        const name = `container_bench_family_${f}_total`;
        sink.family(name, 'counter', 'Bench family.');
        for (const c of containers) sink.add(name, c, Math.random() * 1e6);
      }
    },
  };
}

describe('sampler + encoder hot path', () => {
  it('measures CPU per tick', async () => {
    const sampler = new Sampler({ sources: [busyNode()], baseLabels: { cluster: 'c', node: 'node-1', instance: 'node-1' }, intervalMs: 10_000 });
    const warm = 20;
    const n = 100;
    let series = 0;
    let bytes = 0;
    const tickMs: number[] = [];
    const encMs: number[] = [];
    for (let i = 0; i < warm + n; i++) {
      const c0 = process.cpuUsage();
      const b = await sampler.tick();
      const c1 = process.cpuUsage(c0);
      const body = encodeWriteRequestBody({ timeseries: b.series });
      const c2 = process.cpuUsage(c0);
      if (i >= warm) {
        tickMs.push((c1.user + c1.system) / 1000);
        encMs.push((c2.user + c2.system - c1.user - c1.system) / 1000);
        series = b.series.length;
        bytes = body.length;
      }
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const p99 = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.99)];
    const lines = [
      `# Sampler and encoder hot path`,
      '',
      `Command: \`npx vitest run --config vitest.bench.config.ts test/bench/sampler.bench.ts\`, ${new Date().toISOString().slice(0, 10)}, ${n} ticks after ${warm} warm-up.`,
      '',
      `| measure (${series} series per tick, ${FAMILIES} families × ${series / FAMILIES} containers) | median | p99 |`,
      '|---|---|---|',
      `| Sampler.tick CPU ms | ${med(tickMs).toFixed(1)} | ${p99(tickMs).toFixed(1)} |`,
      `| remote_write encode + snappy CPU ms | ${med(encMs).toFixed(1)} | ${p99(encMs).toFixed(1)} |`,
      `| bytes pushed per tick | ${bytes} | |`,
      '',
    ];
    mkdirSync(join(REPO_ROOT, 'test/bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test/bench/results/sampler.md'), lines.join('\n'));
    console.log(lines.join('\n'));
  }, 300_000);
});
