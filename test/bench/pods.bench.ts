/**
 * Pods and containers on a generated full node (110 pods, 250 containers; summary JSON
 * and cgroup v2 tree built from the real 1.35 capture): the agent's CPU per tick, RSS,
 * bytes pushed per tick and cgroup reads per tick — against the same node's kubelet
 * `/metrics/cadvisor` text, parsed in Node and scraped by a real Prometheus (what users
 * run today). Writes test/bench/results/pods.md.
 *
 * Run: npx vitest run --config vitest.bench.config.ts test/bench/pods.bench.ts
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { procCpuSeconds, procMemory } from '../helpers/proc-stats.js';
import { freePort } from '../helpers/procs.js';
import { generateNode } from '../agent-pods/generated-node.js';

const N = Number(process.env.KUBEPULSE_BENCH_PODS_N ?? 40);
/** Ticks at the agent's real pace (10 s apart, idle in between, as in the DaemonSet) for the steady RSS. */
const PACED = Number(process.env.KUBEPULSE_BENCH_PODS_PACED ?? 4);
const PROM_WINDOW_S = Number(process.env.KUBEPULSE_BENCH_PROM_WINDOW ?? 20);
const PROMETHEUS = '/usr/bin/prometheus';

const SERVER = `
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { startFakeKubelet } from './test/fakes/fake-kubelet.js';
const [summary, text] = process.argv.slice(2);
const k = await startFakeKubelet({ summary: readFileSync(summary, 'utf8'), extra: { '/metrics/cadvisor': readFileSync(text, 'utf8') } });
// A side port that tells how many times /metrics/cadvisor was fetched (Prometheus's scrapes).
const counter = createServer((q, r) => r.end(String(k.requests.get('/metrics/cadvisor') ?? 0)));
await new Promise((r) => counter.listen(0, '127.0.0.1', r));
console.log(JSON.stringify({ url: k.url, tokenFile: k.tokenFile, caFile: k.caFile, port: k.port, counterPort: counter.address().port }));
process.stdin.resume();
process.stdin.on('end', async () => { counter.close(); await k.close(); process.exit(0); });
`;

/** The agent side: sampler ticks with the kubelet and cgroup sources, then the text baseline. */
const AGENT = `
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Sampler } from './agent/sampler.js';
import { KubeletSource } from './agent/sources/kubelet/kubelet-source.js';
import { CgroupSource, keepOpenReader } from './agent/sources/cgroup/index.js';
import { PodStore } from './agent/discovery/pod-index.js';
import { encodeWriteRequestBody, encodePackedWriteRequestBody } from './shared/wire.js';
// What the shipper does with a sampler batch: encode it from its packed form (one request here).
const encodeBatch = (b) => encodePackedWriteRequestBody(b.packed, 0, b.packed.count);
const anonBytes = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const n = cfg.n;
const baseRss = process.memoryUsage().rss;
const store = new PodStore();
store.replaceAll(JSON.parse(readFileSync(cfg.podsFile, 'utf8')));
let reads = 0, maxPerFile = 0;
let perFile = new Map();
// The reader the agent uses on cgroupfs (files kept open, re-read at offset 0), counted.
const kept = keepOpenReader();
const readFile = Object.assign((p) => { reads++; const c = (perFile.get(p) ?? 0) + 1; perFile.set(p, c); if (c > maxPerFile) maxPerFile = c; return kept(p); }, { endTick: () => kept.endTick() });
const kubelet = new KubeletSource({ kubelet: { url: cfg.url, tokenFile: cfg.tokenFile, caFile: cfg.caFile }, podIndex: store });
const cgroup = new CgroupSource({ root: cfg.cgroupRoot, mode: 'kubernetes', podIndex: store, readFile });
const base = { cluster: 'bench', node: 'node-1', instance: '10.0.0.1:9191' };
if (cfg.paced !== undefined) {
  // A fresh agent ticking at the DaemonSet's pace (10 s apart, idle in between, which lets
  // V8 shrink the heap): the steady RSS, where the phases below are the worst case.
  const s = new Sampler({ sources: [kubelet, cgroup], baseLabels: base, intervalMs: 10_000, deadlineMs: 60_000 });
  let rss = 0;
  let c0;
  for (let i = 0; i < cfg.paced; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 10_000));
    perFile = new Map();
    encodeBatch(await s.tick());
    rss = process.memoryUsage().rss;
    // From the end of the first tick: whole-process CPU (GC while idle included) per interval.
    if (i === 0) c0 = process.cpuUsage();
  }
  const c = process.cpuUsage(c0);
  const heap = process.memoryUsage().heapUsed;
  const anon = anonBytes();
  const external = process.memoryUsage().external;
  globalThis.gc();
  console.log(JSON.stringify({ pacedRss: rss, pacedHeap: heap, pacedAnon: anon, pacedExternal: external, pacedLiveHeap: process.memoryUsage().heapUsed, pacedCpu: (c.user + c.system) / 1e6 / Math.max(1, cfg.paced - 1) }));
  process.exit(0);
}
async function phase(sources) {
  let t = 1_700_000_000_000;
  const s = new Sampler({ sources, baseLabels: base, intervalMs: 10_000, deadlineMs: 60_000, now: () => (t += 10_000) });
  for (let i = 0; i < 3; i++) { perFile = new Map(); await s.tick(); }
  maxPerFile = 0;
  const cpu0 = process.cpuUsage();
  let bytes = 0, samples = 0, series = 0, encodeCpu = 0; const walls = [];
  for (let i = 0; i < n; i++) {
    perFile = new Map(); reads = 0;
    const w0 = performance.now();
    const b = await s.tick();
    walls.push(performance.now() - w0);
    const e0 = process.cpuUsage();
    bytes += encodeBatch(b).length;
    const e = process.cpuUsage(e0); encodeCpu += (e.user + e.system) / 1e6;
    samples += b.samples; series = b.packed.count;
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuPerTick: ((cpu.user + cpu.system) / 1e6 - encodeCpu) / n, encodeCpuPerTick: encodeCpu / n, bytesPerTick: bytes / n, samplesPerTick: samples / n, series, walls, readsPerTick: reads };
}
// The sources alone, into a counting sink: no Sampler, no label sets.
const sink = { n: 0, family() {}, add() { this.n++; } };
const ctx = { now: 1, signal: new AbortController().signal, reportError(r, e) { console.error(r, String(e)); } };
for (let i = 0; i < 3; i++) { await kubelet.collect(sink, ctx); cgroup.collect(sink, ctx); }
const raw = { kubelet: 0, cgroup: 0 };
for (let i = 0; i < n; i++) {
  let c0 = process.cpuUsage(); await kubelet.collect(sink, ctx); let c = process.cpuUsage(c0); raw.kubelet += (c.user + c.system) / 1e6 / n;
  perFile = new Map();
  c0 = process.cpuUsage(); cgroup.collect(sink, ctx); c = process.cpuUsage(c0); raw.cgroup += (c.user + c.system) / 1e6 / n;
}
const both = await phase([kubelet, cgroup]);
const rssBoth = process.memoryUsage().rss;
const heapBoth = process.memoryUsage().heapUsed;
globalThis.gc();
const liveHeap = process.memoryUsage().heapUsed;
const kubeletOnly = await phase([kubelet]);
const cgroupOnly = await phase([cgroup]);
const rss = process.memoryUsage().rss;
// Baseline: fetch the same node's /metrics/cadvisor over the same TLS and parse it into
// label sets (what any scraper must do before storing), then encode it as one remote_write.
const token = readFileSync(cfg.tokenFile, 'utf8').trim();
const ca = readFileSync(cfg.caFile);
const fetchText = () => new Promise((resolve, reject) => {
  const req = request(cfg.url + '/metrics/cadvisor', { headers: { Authorization: 'Bearer ' + token }, ca }, (res) => {
    const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8'))); res.on('error', reject);
  });
  req.on('error', reject); req.end();
});
function parse(text, t) {
  const out = [];
  for (const line of text.split('\\n')) {
    if (line === '' || line[0] === '#') continue;
    const brace = line.indexOf('{');
    const labels = [];
    let rest;
    if (brace >= 0) {
      labels.push({ name: '__name__', value: line.slice(0, brace) });
      const end = line.lastIndexOf('}');
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"/g;
      const body = line.slice(brace + 1, end);
      let m; while ((m = re.exec(body))) labels.push({ name: m[1], value: m[2] });
      rest = line.slice(end + 2);
    } else { const sp = line.indexOf(' '); labels.push({ name: '__name__', value: line.slice(0, sp) }); rest = line.slice(sp + 1); }
    const v = Number(rest.split(' ')[0]);
    for (const [k, val] of Object.entries(base)) labels.push({ name: k, value: val });
    labels.push({ name: 'job', value: 'kubelet' }, { name: 'metrics_path', value: '/metrics/cadvisor' });
    labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out.push({ labels: labels.filter((l) => l.value !== ''), samples: [{ t, v }] });
  }
  return out;
}
for (let i = 0; i < 3; i++) parse(await fetchText(), 1);
let textBytes = 0, textSeries = 0, textBytesPushed = 0, textEncodeCpu = 0;
const c0 = process.cpuUsage();
for (let i = 0; i < n; i++) {
  const text = await fetchText();
  textBytes = text.length;
  const series = parse(text, 1_700_000_000_000 + i * 10_000);
  textSeries = series.length;
  const e0 = process.cpuUsage();
  textBytesPushed = encodeWriteRequestBody({ timeseries: series }).length;
  const e = process.cpuUsage(e0); textEncodeCpu += (e.user + e.system) / 1e6;
}
const c = process.cpuUsage(c0);
const text = { cpuPerTick: ((c.user + c.system) / 1e6 - textEncodeCpu) / n, textBytes, series: textSeries, bytesPerTick: textBytesPushed };
console.log(JSON.stringify({ rssBoth, heapBoth, liveHeap, raw, both, kubeletOnly, cgroupOnly, rss, baseRss, text, maxPerFile }));
`;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** The agent's V8 flags in the DaemonSet (helm/kubepulse/templates/agent/daemonset.yaml), plus gc() for the live-heap row. */
const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'];

async function runNode(script: string, args: string[], cwd: string, flags: string[] = []): Promise<string> {
  const child = spawn(process.execPath, [...flags, script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench child ${script} failed (${code}): ${stderr}`);
  return stdout;
}

/** Runs Prometheus for `windowS` after a warm-up; CPU seconds and RSS over the window. */
async function measurePrometheus(dir: string, name: string, scrapeConfig: string, windowS: number, scrapes: () => Promise<number>): Promise<{ cpu: number; rss: number; scrapes: number }> {
  const port = await freePort();
  const cfgFile = join(dir, `${name}.yml`);
  writeFileSync(cfgFile, `global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n${scrapeConfig}`);
  const data = join(dir, `${name}-data`);
  const child: ChildProcess = spawn(PROMETHEUS, [`--config.file=${cfgFile}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  try {
    await new Promise((r) => setTimeout(r, 6000));
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const s0 = await scrapes();
    const c0 = procCpuSeconds(child.pid!);
    await new Promise((r) => setTimeout(r, windowS * 1000));
    const cpu = procCpuSeconds(child.pid!) - c0;
    const s1 = await scrapes();
    return { cpu, rss: procMemory(child.pid!).vmRss, scrapes: s1 - s0 };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

it('pods on a 110-pod / 250-container node: agent vs /metrics/cadvisor text', async () => {
  const work = mkdtempSync(join(tmpdir(), 'kubepulse-pods-bench-'));
  let server: ChildProcess | undefined;
  try {
    const cgroupRoot = join(work, 'cgroup');
    mkdirSync(cgroupRoot);
    const node = generateNode(cgroupRoot, { version: 2, driver: 'systemd', runtime: 'containerd', pods: 110, containersPerPod: (p) => (p < 30 ? 3 : 2) });
    expect(node.containers).toBe(250);
    writeFileSync(join(work, 'summary.json'), node.summary);
    writeFileSync(join(work, 'cadvisor.txt'), node.cadvisorText);
    writeFileSync(join(work, 'pods.json'), JSON.stringify(node.pods));

    const out = join(work, 'build');
    execFileSync(
      join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['--outDir', out, '--rootDir', REPO_ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--strict',
        ...['agent/sampler.ts', 'agent/sources/kubelet/kubelet-source.ts', 'agent/sources/cgroup/index.ts', 'agent/discovery/pod-index.ts', 'shared/wire.ts', 'test/fakes/fake-kubelet.ts'].map((f) => join(REPO_ROOT, f))],
      { cwd: REPO_ROOT, stdio: 'pipe' },
    );
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    if (!existsSync(join(out, 'node_modules'))) symlinkSync(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'));
    writeFileSync(join(out, 'server.mjs'), SERVER);
    writeFileSync(join(out, 'agent.mjs'), AGENT);

    server = spawn(process.execPath, ['server.mjs', join(work, 'summary.json'), join(work, 'cadvisor.txt')], { cwd: out, stdio: ['pipe', 'pipe', 'pipe'] });
    const info = await new Promise<{ url: string; tokenFile: string; caFile: string; port: number; counterPort: number }>((resolve, reject) => {
      let buf = '';
      server!.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]));
      });
      server!.once('exit', (c) => reject(new Error(`fake kubelet exited ${c}`)));
    });
    const cfgFile = join(work, 'agent.json');
    writeFileSync(cfgFile, JSON.stringify({ ...info, n: N, cgroupRoot, podsFile: join(work, 'pods.json') }));
    const pacedCfg = join(work, 'agent-paced.json');
    writeFileSync(pacedCfg, JSON.stringify({ ...info, n: N, paced: PACED, cgroupRoot, podsFile: join(work, 'pods.json') }));
    const paced = PACED > 0 ? (JSON.parse(await runNode('agent.mjs', [pacedCfg], out, AGENT_NODE_FLAGS)) as { pacedRss: number; pacedHeap: number; pacedAnon: number; pacedExternal: number; pacedLiveHeap: number; pacedCpu: number }) : undefined;
    type Phase = { cpuPerTick: number; encodeCpuPerTick: number; bytesPerTick: number; samplesPerTick: number; series: number; walls: number[]; readsPerTick: number };
    const r = JSON.parse(await runNode('agent.mjs', [cfgFile], out, AGENT_NODE_FLAGS)) as {
      raw: { kubelet: number; cgroup: number };
      rssBoth: number;
      heapBoth: number;
      liveHeap: number;
      both: Phase; kubeletOnly: Phase; cgroupOnly: Phase; rss: number; baseRss: number; maxPerFile: number;
      text: { cpuPerTick: number; textBytes: number; series: number; bytesPerTick: number };
    };

    let prom: { cpuPerScrape: number; rss: number; idleRss: number; scrapes: number } | undefined;
    if (existsSync(PROMETHEUS)) {
      writeFileSync(join(work, 'token'), readFileSync(info.tokenFile));
      const job = `  - job_name: kubelet\n    scheme: https\n    metrics_path: /metrics/cadvisor\n    tls_config:\n      ca_file: ${info.caFile}\n    authorization:\n      credentials_file: ${join(work, 'token')}\n    static_configs:\n      - targets: ['127.0.0.1:${info.port}']\n`;
      const scrapes = async () => Number(await (await fetch(`http://127.0.0.1:${info.counterPort}/`)).text());
      const idle = await measurePrometheus(work, 'idle', '  - job_name: none\n    static_configs: []\n', PROM_WINDOW_S, scrapes);
      const busy = await measurePrometheus(work, 'busy', job, PROM_WINDOW_S, scrapes);
      prom = { cpuPerScrape: (busy.cpu - idle.cpu) / Math.max(1, busy.scrapes), rss: busy.rss, idleRss: idle.rss, scrapes: busy.scrapes };
    }

    const ms = (s: number) => (s * 1000).toFixed(2);
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    const kb = (b: number) => (b / 1024).toFixed(1);
    const rows = [
      ['CPU per tick, the two sources alone into a counting sink (ms)', ms(r.raw.kubelet + r.raw.cgroup)],
      ['… kubelet source (HTTPS fetch, JSON parse, series) (ms)', ms(r.raw.kubelet)],
      ['… cgroup source (walk + reads + parse) (ms)', ms(r.raw.cgroup)],
      ['CPU per tick, both sources through the Sampler (label sets, stale tracking) (ms)', ms(r.both.cpuPerTick)],
      ['… kubelet source alone through the Sampler (ms)', ms(r.kubeletOnly.cpuPerTick)],
      ['… cgroup source alone through the Sampler (ms)', ms(r.cgroupOnly.cpuPerTick)],
      ['remote_write encode + snappy per tick (ms)', ms(r.both.encodeCpuPerTick)],
      ['tick wall time p50 / p99 (ms)', `${quantile(r.both.walls, 0.5).toFixed(2)} / ${quantile(r.both.walls, 0.99).toFixed(2)}`],
      ['series per tick', String(r.both.series)],
      ['bytes pushed per tick (snappy protobuf) (KiB)', kb(r.both.bytesPerTick)],
      ['cgroup file reads per tick (max reads of one file)', `${r.cgroupOnly.readsPerTick} (${r.maxPerFile})`],
      ['agent child RSS after the Sampler phase (MB; V8 heap in use)', `${mb(r.rssBoth)} (${mb(r.heapBoth)})`],
      ['… V8 heap live after a full GC (MB)', mb(r.liveHeap)],
      [`agent RSS at the DaemonSet's pace: a fresh child, ${PACED} ticks 10 s apart (MB; V8 heap in use)`, paced ? `${mb(paced.pacedRss)} (${mb(paced.pacedHeap)})` : 'n/a'],
      ['… of it anonymous memory (RssAnon) / off-heap buffers (external) (MB)', paced ? `${mb(paced.pacedAnon)} / ${mb(paced.pacedExternal)}` : 'n/a'],
      ['… V8 heap live after a full GC at the end (MB)', paced ? mb(paced.pacedLiveHeap) : 'n/a'],
      ['… its process CPU per 10 s interval: tick, encode, GC while idle (ms; see the note below)', paced && PACED > 1 ? ms(paced.pacedCpu) : 'n/a'],
      ['agent child RSS after all phases (MB)', mb(r.rss)],
    ];
    const cmp = [
      ['CPU per tick / per scrape, sources alone (ms)', ms(r.raw.kubelet + r.raw.cgroup), ms(r.text.cpuPerTick), prom ? ms(prom.cpuPerScrape) : 'n/a'],
      ['CPU per tick through the Sampler (ms)', ms(r.both.cpuPerTick), '—', '—'],
      ['series', String(r.both.series), String(r.text.series), String(r.text.series)],
      ['bytes per tick if pushed by remote_write (KiB)', kb(r.both.bytesPerTick), kb(r.text.bytesPerTick), '—'],
      ['bytes on the wire from the kubelet (KiB)', kb(node.summary.length), kb(r.text.textBytes), kb(r.text.textBytes)],
      ['RSS (MB)', mb(r.rssBoth), '(same child)', prom ? `${mb(prom.rss)} (idle ${mb(prom.idleRss)})` : 'n/a'],
    ];
    const table = (head: string[], body: string[][]) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((x) => `| ${x.join(' | ')} |`)].join('\n');
    const md = `# Pods and containers: kubelet summary + cgroups vs /metrics/cadvisor

Command: \`npx vitest run --config vitest.bench.config.ts test/bench/pods.bench.ts\` (N=${N} ticks, env \`KUBEPULSE_BENCH_PODS_N\`; ${PACED} paced ticks, env \`KUBEPULSE_BENCH_PODS_PACED\`; Prometheus window ${PROM_WINDOW_S} s, env \`KUBEPULSE_BENCH_PROM_WINDOW\`)
Date: ${new Date().toISOString()}
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, shared with other jobs (figures are noisy; 1-min load average at the end of the run: ${loadavg()[0].toFixed(1)}).

The node: 110 pods, 250 containers, generated from the real Kubernetes 1.35 capture
(every pod is a copy of its kube-proxy pod: 10 network interfaces, PSI, swap, rootfs/logs;
cgroup v2, systemd driver, containerd, a pause sandbox per pod). The summary
(${kb(node.summary.length)} KiB) is served by the fake kubelet over HTTPS with a bearer token,
in its own process; the agent side runs in another Node process (compiled with tsc, started
with the DaemonSet's \`node --max-semi-space-size=1\`, importing the sampler, the two
sources, the pod index and the encoder — not the pod watch, @kubernetes/client-node or the
shipper), so its CPU and RSS are those parts' alone. Batches are encoded as the shipper
encodes them, from their packed form. The cgroup
source reads through the agent's keep-open reader (files opened once, re-read at offset 0
every tick, as it does on cgroupfs; the generated tree is on an ordinary filesystem, where
the agent itself would open and close each file). CPU is \`process.cpuUsage()\` around ${N} sampler
ticks, remote_write encoding counted separately.

${table(['measure', 'value'], rows)}

Compared with the same node's kubelet \`/metrics/cadvisor\` (${r.text.series} series, derived row
by row from the capture's cAdvisor text, timestamps dropped): "text in Node" fetches it
over the same TLS and parses it into label sets (a lower bound for any scraper);
"Prometheus" is a real Prometheus 2.42 scraping it every 2 s, CPU from /proc/<pid>/stat
over ${PROM_WINDOW_S} s minus an idle Prometheus over the same window, divided by the
${prom?.scrapes ?? 0} scrapes at a 2 s interval (parse + TSDB append).

${table(['measure', 'kubepulse sources', '/metrics/cadvisor text in Node', 'Prometheus 2.42 scrape'], cmp)}

Ratios (sources alone): CPU ${((r.raw.kubelet + r.raw.cgroup) / r.text.cpuPerTick).toFixed(2)} × the Node text parse${prom ? `, ${((r.raw.kubelet + r.raw.cgroup) / prom.cpuPerScrape).toFixed(2)} × Prometheus` : ''}; through the Sampler ${(r.both.cpuPerTick / r.text.cpuPerTick).toFixed(2)} × the Node text parse${prom ? `, ${(r.both.cpuPerTick / prom.cpuPerScrape).toFixed(2)} × Prometheus` : ''}; bytes pushed ${(r.both.bytesPerTick / r.text.bytesPerTick).toFixed(2)} × pushing all cAdvisor series.
The cAdvisor text carries ~${(r.text.series / r.both.series).toFixed(1)}× the series (blkio, tasks, per-interface packet/drop counters, fs
reads/writes, sockets, the pause container's own rows…), most of which the mixin never reads.

Note on the paced rows: after an idle gap the same work costs this VM several times the
CPU time it costs back to back (encoding 13,044 series, pure JS without GC: 1.3-1.5 ms
back to back, 2.4-6.0 ms each after 3 s idle; the encode of the agent's batch went from ~8
to 18-36 ms after 10 s idle, with 30 warm-up ticks, with or without \`--no-memory-reducer\`):
cold caches and clocks on a shared vCPU, not the agent's code. The back-to-back rows are
the ones to compare code changes with.

Goals (issue 4): under 30 ms CPU per tick; RSS under 60 MB; at most one read per cgroup file per tick.
`;
    writeFileSync(join(REPO_ROOT, 'test/bench/results/pods.md'), md);
    console.log(md);
    expect(r.maxPerFile).toBe(1);
    expect(r.both.series).toBeGreaterThan(5000);
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((res) => server!.once('exit', res));
      server.stdin?.end();
      await Promise.race([exited, new Promise((res) => setTimeout(res, 3000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    rmSync(work, { recursive: true, force: true });
  }
});
