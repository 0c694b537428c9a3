/**
 * Node source vs prometheus-node-exporter, side by side on this machine: CPU per tick
 * (ours) vs CPU per scrape (node_exporter, from /proc/<pid>/stat around N scrapes), RSS,
 * and tick/scrape p99. The node source runs in its own Node process (compiled with tsc)
 * so its RSS is not the test runner's. Writes test/bench/results/node.md.
 *
 * Run: npx vitest run --config vitest.bench.config.ts test/bench/node.bench.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { nodeExporterAvailable, startNodeExporter } from '../node/live-node-exporter.js';

const N = Number(process.env.KUBEPULSE_BENCH_NODE_N ?? 200);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** The child: N sequential collects into a counting sink, then a JSON report on stdout. */
const CHILD = `
import { NodeSource } from './agent/sources/node/index.js';
const n = Number(process.argv[2]);
const baseRss = process.memoryUsage().rss;
const src = new NodeSource({ hostRoot: '/', targetLabels: { job: 'node-exporter' } });
let samples = 0;
const sink = { family() {}, add() { samples++; } };
const ctx = () => ({ now: Date.now(), signal: new AbortController().signal, reportError(r, e) { console.error(r, String(e)); } });
for (let i = 0; i < 5; i++) await src.collect(sink, ctx());
samples = 0;
const durations = [];
const cpu0 = process.cpuUsage();
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  await src.collect(sink, ctx());
  durations.push(performance.now() - t0);
}
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, durations, rss: process.memoryUsage().rss, baseRss, samplesPerTick: samples / n }));
`;

it.skipIf(!nodeExporterAvailable())('node source vs node_exporter: CPU per tick, RSS, p99', async () => {
  const out = mkdtempSync(join(tmpdir(), 'kubepulse-node-bench-'));
  const exporter = await startNodeExporter();
  try {
    execFileSync(
      join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['--outDir', out, '--rootDir', REPO_ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--strict', join(REPO_ROOT, 'agent/sources/node/index.ts')],
      { cwd: REPO_ROOT, stdio: 'pipe' },
    );
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    writeFileSync(join(out, 'child.mjs'), CHILD);

    // node_exporter: warm up, then N sequential scrapes.
    for (let i = 0; i < 5; i++) await exporter.scrape();
    const neLatency: number[] = [];
    const neCpu0 = exporter.cpuSeconds();
    let neSamples = 0;
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const text = await exporter.scrape();
      neLatency.push(performance.now() - t0);
      if (i === 0) neSamples = text.split('\n').filter((l) => l.startsWith('node_') && !l.startsWith('node_scrape_') && !l.startsWith('node_exporter_')).length;
    }
    const neCpuPerScrape = (exporter.cpuSeconds() - neCpu0) / N;
    const neRss = exporter.rssBytes();

    type ChildReport = { cpuSeconds: number; durations: number[]; rss: number; baseRss: number; samplesPerTick: number };
    const runChild = async (nodeFlags: string[]): Promise<ChildReport> => {
      const child = spawn(process.execPath, [...nodeFlags, join(out, 'child.mjs'), String(N)], { cwd: out, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      if (code !== 0) throw new Error(`bench child failed (${code}): ${stderr}`);
      return JSON.parse(stdout) as ChildReport;
    };
    const kp = await runChild([]);
    // A small young generation trades a little GC CPU for RSS: the agent's runtime flag.
    const kpSmall = await runChild(['--max-semi-space-size=1']);
    const kpCpuPerTick = kp.cpuSeconds / N;

    const ms = (s: number) => (s * 1000).toFixed(2);
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    const rows = [
      ['CPU per tick / scrape (ms)', ms(kpCpuPerTick), ms(neCpuPerScrape), (kpCpuPerTick / neCpuPerScrape).toFixed(2)],
      ['tick / scrape p50 (ms)', quantile(kp.durations, 0.5).toFixed(2), quantile(neLatency, 0.5).toFixed(2), (quantile(kp.durations, 0.5) / quantile(neLatency, 0.5)).toFixed(2)],
      ['tick / scrape p99 (ms)', quantile(kp.durations, 0.99).toFixed(2), quantile(neLatency, 0.99).toFixed(2), (quantile(kp.durations, 0.99) / quantile(neLatency, 0.99)).toFixed(2)],
      ['RSS after the run (MB)', mb(kp.rss), mb(neRss), (kp.rss / neRss).toFixed(2)],
      ['with node --max-semi-space-size=1: CPU per tick (ms)', ms(kpSmall.cpuSeconds / N), ms(neCpuPerScrape), (kpSmall.cpuSeconds / N / neCpuPerScrape).toFixed(2)],
      ['with node --max-semi-space-size=1: RSS (MB)', mb(kpSmall.rss), mb(neRss), (kpSmall.rss / neRss).toFixed(2)],
      ['samples per tick / scrape', kp.samplesPerTick.toFixed(0), String(neSamples), (kp.samplesPerTick / neSamples).toFixed(2)],
    ];
    const table = ['| measure | kubepulse node source | node_exporter 1.5.0 | ratio |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
    const md = `# Node source vs node_exporter

Command: \`npx vitest run --config vitest.bench.config.ts test/bench/node.bench.ts\` (N=${N}, env \`KUBEPULSE_BENCH_NODE_N\`)
Date: ${new Date().toISOString()}
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, shared with other jobs (figures are noisy).

Both read the same collectors with the same filters (node_exporter started with
\`--collector.disable-defaults\` plus the covered collectors and the node source's default
regexes; see test/node/live-node-exporter.ts). node_exporter's CPU comes from
/proc/<pid>/stat around ${N} sequential scrapes and includes HTTP and text encoding; the node
source's is \`process.cpuUsage()\` around ${N} sequential collects into a counting sink in a
separate Node process (no sampler, no shipping). RSS of that process is the node source on a
bare Node runtime (${mb(kp.baseRss)} MB after loading the module, before the first tick;
a bare \`node -e\` is about 39 MB here).

${table}

Goals (issue 3): CPU per tick ≤ node_exporter's per scrape (ratio ≤ 1); tick p99 < 50 ms;
agent RSS < 60 MB.
`;
    writeFileSync(join(REPO_ROOT, 'test/bench/results/node.md'), md);
    console.log(md);
    expect(kp.samplesPerTick).toBeGreaterThan(100);
  } finally {
    await exporter.stop();
    rmSync(out, { recursive: true, force: true });
  }
});
