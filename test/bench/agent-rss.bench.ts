/**
 * The whole agent's memory on issue 4's full node, measured on the real program as the
 * DaemonSet runs it: the built `agent/main.js` under `node --max-semi-space-size=1`,
 * flags as helm/kubepulse/templates/agent/daemonset.yaml passes them, against a fake
 * kubelet (HTTPS, token, CA) serving the generated 110-pod / 250-container node, a fake
 * API server holding its pods (node-scoped list/watch through a kubeconfig), the generated
 * cgroup v2 tree, this machine's real /proc and /sys for the node series, and a
 * remote_write sink. Reference points in the same run: a bare Node process and the real
 * prometheus-node-exporter. Then where the memory goes: a heap snapshot of the agent at
 * the end of the run, the RSS by mapping, and each dependency's import-only RSS.
 * Writes test/bench/results/agent-rss.md.
 *
 * Run: npx vitest run --config vitest.bench.config.ts test/bench/agent-rss.bench.ts
 * Env: KUBEPULSE_BENCH_AGENT_RSS_TICKS (default 12), KUBEPULSE_BENCH_AGENT_RSS_INTERVAL
 * (default 10s), KUBEPULSE_BENCH_AGENT_RSS_SNAPSHOT=0 to skip the heap snapshot;
 * experiments: KUBEPULSE_BENCH_AGENT_RSS_NODE_FLAGS, KUBEPULSE_BENCH_AGENT_RSS_ENV (`K=V,…`;
 * `K=` removes K, e.g. the DaemonSet's glibc settings).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { generateNode } from '../agent-pods/generated-node.js';
import { decodeWriteRequest, snappyDecompress } from '../../shared/wire.js';
import { JOB_KUBELET, JOB_NODE } from '../../shared/metric-names.js';
import type { FakesInfo, FakesStats } from './agent-rss/fakes.js';
import { summariseHeapSnapshot, type HeapRow, type HeapSummary } from './agent-rss/heap-summary.js';
import { metricValue, procCpuSeconds, procMemory, rssByMapping, type ProcMemory } from '../helpers/proc-stats.js';
import { freePort } from '../helpers/procs.js';

const TICKS = Number(process.env.KUBEPULSE_BENCH_AGENT_RSS_TICKS ?? 12);
const INTERVAL = process.env.KUBEPULSE_BENCH_AGENT_RSS_INTERVAL ?? '10s';
const SNAPSHOT = process.env.KUBEPULSE_BENCH_AGENT_RSS_SNAPSHOT !== '0';
/**
 * Experiments without code changes: more node flags for the agent (space-separated,
 * e.g. `--lite-mode`) and more environment (`K=V,K=V`, e.g. `MALLOC_ARENA_MAX=2`). A
 * run with either prints its figures but does not write the results file.
 */
const EXTRA_FLAGS = (process.env.KUBEPULSE_BENCH_AGENT_RSS_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const EXTRA_ENV = Object.fromEntries(
  (process.env.KUBEPULSE_BENCH_AGENT_RSS_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new Error(`KUBEPULSE_BENCH_AGENT_RSS_ENV: ${JSON.stringify(kv)} is not K=V`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
) as Record<string, string>;
const VARIANT = EXTRA_FLAGS.length > 0 || Object.keys(EXTRA_ENV).length > 0;
const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const GOAL_BYTES = 60 * 1024 * 1024;
/** The DaemonSet's V8 flag and glibc settings (helm/kubepulse/templates/agent/daemonset.yaml). */
const NODE_FLAGS = ['--max-semi-space-size=1'];
const DAEMONSET_ENV: Record<string, string> = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' };
/**
 * Pod and container series of the generated node (13,044 through the sampler in
 * test/bench/results/pods.md); a run outside this range did not sample the node fully.
 */
const POD_SERIES_RANGE = [11_000, 15_500] as const;
/** What the agent imports outside node: built-ins (grep of agent/ and shared/), plus fastify for reference. */
const DEPENDENCIES = ['prom-client', 'pino', 'ajv', 'yaml', 'snappy', '@kubernetes/client-node', 'fastify'];

const intervalMs = (() => {
  const m = /^(\d+)(ms|s|m)$/.exec(INTERVAL);
  if (!m) throw new Error(`KUBEPULSE_BENCH_AGENT_RSS_INTERVAL: ${JSON.stringify(INTERVAL)} is not a duration like 10s`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
})();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const table = (head: string[], body: string[][]) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((x) => `| ${x.join(' | ')} |`)].join('\n');

/** The environment a DaemonSet container gets, not the test runner's (no NODE_OPTIONS etc.). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...extra };
  // `K=` in KUBEPULSE_BENCH_AGENT_RSS_ENV removes K (e.g. one of the DaemonSet's settings).
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
  return env;
}

/** Keeps the last `max` characters a child wrote, for error messages. */
function tail(child: ChildProcess, max = 8000): () => string {
  let buf = '';
  const add = (d: Buffer) => {
    buf = (buf + d.toString()).slice(-max);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => buf;
}

async function stop(child: ChildProcess | undefined, how: 'SIGTERM' | 'stdin' = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  if (how === 'stdin') child.stdin?.end();
  else child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}

/**
 * Compiles agent/, shared/ and the bench's fakes helper with the build's tsconfig into
 * `out` (not dist/, which others may be using), beside a package.json (the version, ESM)
 * and node_modules. Returns tsc's complaints: files others are mid-edit on may not
 * type-check, yet still emit, and the run checks below judge whether the agent works.
 */
function build(work: string, out: string): string {
  const tsconfig = join(work, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO_ROOT, 'tsconfig.build.json'),
      compilerOptions: { outDir: out, rootDir: REPO_ROOT, typeRoots: [join(REPO_ROOT, 'node_modules/@types')], incremental: false },
      include: ['agent/**/*.ts', 'shared/**/*.ts', 'test/bench/agent-rss/fakes.ts'].map((p) => join(REPO_ROOT, p)),
      exclude: ['**/*.test.ts', '**/testdata/**'].map((p) => join(REPO_ROOT, p)),
    }),
  );
  const r = spawnSync(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', tsconfig], { cwd: REPO_ROOT, encoding: 'utf8' });
  const problems = r.status === 0 ? '' : `${r.stdout}${r.stderr}`.trim();
  if (!existsSync(join(out, 'agent/main.js'))) throw new Error(`building the agent failed:\n${problems}`);
  copyFileSync(join(REPO_ROOT, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'));
  return problems;
}

interface Push {
  at: number;
  bytes: number;
  series: number;
  byJob: Map<string, number>;
  /** Container series (non-empty `container` and `pod`) that carry an `image` label: names from the pod watch. */
  withImage: number;
  pods: Set<string>;
  authorized: boolean;
}

/** A remote_write receiver answering 204; decodes each push to check what the agent sent. */
async function startSink(token: string): Promise<{ url: string; pushes: Push[]; errors: string[]; close(): Promise<void> }> {
  const pushes: Push[] = [];
  const errors: string[] = [];
  const server: Server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      try {
        const wr = decodeWriteRequest(snappyDecompress(body));
        const p: Push = { at: Date.now(), bytes: body.length, series: wr.timeseries.length, byJob: new Map(), withImage: 0, pods: new Set(), authorized: req.headers.authorization === `Bearer ${token}` };
        for (const ts of wr.timeseries) {
          const l = new Map(ts.labels.map((x) => [x.name, x.value]));
          const job = l.get('job') ?? '';
          p.byJob.set(job, (p.byJob.get(job) ?? 0) + 1);
          const pod = l.get('pod');
          if (pod) p.pods.add(`${l.get('namespace')}/${pod}`);
          if (pod && l.get('container') && l.get('image')) p.withImage++;
        }
        pushes.push(p);
        res.writeHead(204).end();
      } catch (err) {
        errors.push(String(err));
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pushes,
    errors,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** RSS of a fresh `node --max-semi-space-size=1` in `cwd` after importing `specifiers` (none: a bare process). */
function importRss(cwd: string, specifiers: string[]): ProcMemory & { heapUsed: number } {
  const script = `
import { readFileSync } from 'node:fs';
${specifiers.map((s) => `await import(${JSON.stringify(s)});`).join('\n')}
await new Promise((r) => setTimeout(r, 1500));
const st = readFileSync('/proc/self/status', 'utf8');
const kb = (f) => Number(new RegExp('^' + f + ':\\\\s+(\\\\d+) kB', 'm').exec(st)[1]) * 1024;
console.log(JSON.stringify({ vmRss: kb('VmRSS'), rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem'), vmHwm: kb('VmHWM'), heapUsed: process.memoryUsage().heapUsed }));
`;
  const out = execFileSync(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', script], { cwd, env: cleanEnv(), encoding: 'utf8' });
  return JSON.parse(out) as ProcMemory & { heapUsed: number };
}

/** A bare Node process idling, as the floor any Node agent pays. */
async function bareNode(): Promise<ProcMemory> {
  const child = spawn(process.execPath, [...NODE_FLAGS, '-e', 'setInterval(()=>{},1000)'], { env: cleanEnv(), stdio: 'ignore' });
  try {
    await sleep(3000);
    return procMemory(child.pid!);
  } finally {
    await stop(child);
  }
}

/** The real node_exporter with its default collectors, after a few scrapes. */
async function nodeExporter(): Promise<(ProcMemory & { series: number; version: string }) | undefined> {
  if (!existsSync(NODE_EXPORTER)) return undefined;
  const v = spawnSync(NODE_EXPORTER, ['--version'], { encoding: 'utf8' });
  const version = /version (\S+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? '?';
  const port = await freePort();
  const child = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = tail(child);
  try {
    let series = 0;
    for (let i = 0; i < 40 && series === 0; i++) {
      await sleep(250);
      if (child.exitCode !== null) throw new Error(`node_exporter exited: ${log()}`);
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
      } catch {
        // not listening yet
      }
    }
    if (series === 0) throw new Error(`node_exporter did not answer: ${log()}`);
    for (let i = 0; i < 4; i++) {
      await sleep(1000);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    }
    return { ...procMemory(child.pid!), series, version };
  } finally {
    await stop(child);
  }
}

interface TickSample {
  tick: number;
  mem: ProcMemory;
  cpuSeconds: number;
  metrics: { rss: number; heapUsed: number; heapTotal: number; external: number; samplesSent: number; tickSum: number; tickCount: number };
  series: number;
  bytes: number;
  requests: number;
}

it('the whole agent process on a 110-pod / 250-container node: RSS vs 60 MB, bare Node and node_exporter', async () => {
  const work = mkdtempSync(join(tmpdir(), 'kubepulse-agent-rss-'));
  let fakes: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let sink: Awaited<ReturnType<typeof startSink>> | undefined;
  try {
    const out = join(work, 'build');
    const typeProblems = build(work, out);
    if (typeProblems) console.warn(`agent-rss: tsc reported problems (emitted anyway):\n${typeProblems}`);

    const cgroupRoot = join(work, 'cgroup');
    mkdirSync(cgroupRoot);
    const node = generateNode(cgroupRoot, { version: 2, driver: 'systemd', runtime: 'containerd', pods: 110, containersPerPod: (p) => (p < 30 ? 3 : 2) });
    expect(node.containers).toBe(250);
    const nodeNames = new Set(node.pods.map((p) => p.spec?.nodeName));
    expect(nodeNames.size).toBe(1);
    const nodeName = [...nodeNames][0] as string;
    writeFileSync(join(work, 'summary.json'), node.summary);
    writeFileSync(join(work, 'pods.json'), JSON.stringify(node.pods));

    fakes = spawn(process.execPath, [join(out, 'test/bench/agent-rss/fakes.js'), join(work, 'summary.json'), join(work, 'pods.json'), nodeName], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    const fakesLog = tail(fakes);
    const info = await new Promise<FakesInfo>((resolve, reject) => {
      let buf = '';
      fakes!.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]) as FakesInfo);
      });
      fakes!.once('exit', (c) => reject(new Error(`agent-rss fakes exited ${c}: ${fakesLog()}`)));
    });
    const fakesStats = async () => (await (await fetch(info.statsUrl)).json()) as FakesStats;

    const pushToken = `push-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(work, 'push-token'), `${pushToken}\n`);
    sink = await startSink(pushToken);
    // A kubeconfig as a user writes it: plain-http cluster, bearer token.
    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters:
  - name: bench
    cluster:
      server: ${info.apiUrl}
users:
  - name: agent
    user:
      token: ${info.apiToken}
contexts:
  - name: bench
    context:
      cluster: bench
      user: agent
current-context: bench
`,
    );

    // Reference points first, so that they do not share the CPU with the agent's ticks.
    const bare = await bareNode();
    const exporter = await nodeExporter();

    const listenPort = await freePort();
    const agentUrl = `http://127.0.0.1:${listenPort}`;
    const agentCwd = join(work, 'agent-cwd');
    mkdirSync(agentCwd);
    const args = [
      `--collector-url=${sink.url}`,
      `--interval=${INTERVAL}`,
      `--node-name=${nodeName}`,
      '--cluster=bench',
      `--listen=127.0.0.1:${listenPort}`,
      '--log-level=info',
      `--kubelet-url=${info.kubeletUrl}`,
      `--kubelet-ca-file=${info.kubeletCaFile}`,
      `--kubelet-token-file=${info.kubeletTokenFile}`,
      `--spool-dir=${join(work, 'spool')}`,
      `--bearer-token-file=${join(work, 'push-token')}`,
      `--kubeconfig=${kubeconfig}`,
      `--cgroup-root=${cgroupRoot}`,
    ];
    const nodeFlags = [...NODE_FLAGS, ...EXTRA_FLAGS, ...(SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2'] : [])];
    const shown = (a: string) =>
      a.replace(sink!.url, '<sink>').replace(info.kubeletUrl, '<fake-kubelet>').replace(/=\/tmp\/fake-kubelet-[^/]+\//, '=<fake-kubelet-dir>/').replaceAll(work, '<tmp>').replace(/127\.0\.0\.1:\d+$/, '127.0.0.1:<free port>');
    const agentCommand = ['node', ...nodeFlags, 'dist/agent/main.js', ...args.map(shown)];
    agent = spawn(process.execPath, [...nodeFlags, join(out, 'agent/main.js'), ...args], {
      cwd: agentCwd,
      env: cleanEnv({ ...DAEMONSET_ENV, ...EXTRA_ENV, NODE_NAME: nodeName }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const agentLog = tail(agent, 20_000);
    const pid = agent.pid!;
    const broken = (why: string) => new Error(`agent-rss: ${why}\nagent log:\n${agentLog()}\nfakes log:\n${fakesLog()}`);

    // One sample per tick: when a tick's pushes are done (no request for 700 ms).
    const samples: TickSample[] = [];
    let seen = 0;
    for (let tick = 1; tick <= TICKS; tick++) {
      const waitMs = 3 * intervalMs + 15_000;
      const deadline = Date.now() + waitMs;
      while (!(sink.pushes.length > seen && Date.now() - sink.pushes[sink.pushes.length - 1].at > 700)) {
        if (agent.exitCode !== null || agent.signalCode !== null) throw broken(`the agent exited (${agent.exitCode ?? agent.signalCode}) before tick ${tick}`);
        if (Date.now() > deadline) throw broken(`no push for tick ${tick} within ${waitMs} ms`);
        await sleep(100);
      }
      const burst = sink.pushes.slice(seen);
      seen = sink.pushes.length;
      const mem = procMemory(pid);
      const cpuSeconds = procCpuSeconds(pid);
      const text = await (await fetch(`${agentUrl}/metrics`)).text();
      const v = (name: string) => metricValue(text, name) ?? NaN;
      samples.push({
        tick,
        mem,
        cpuSeconds,
        metrics: {
          rss: v('process_resident_memory_bytes'),
          heapUsed: v('nodejs_heap_size_used_bytes'),
          heapTotal: v('nodejs_heap_size_total_bytes'),
          external: v('nodejs_external_memory_bytes'),
          samplesSent: v('kubepulse_agent_samples_sent_total'),
          tickSum: v('kubepulse_agent_tick_duration_seconds_sum'),
          tickCount: v('kubepulse_agent_tick_duration_seconds_count'),
        },
        series: burst.reduce((s, p) => s + p.series, 0),
        bytes: burst.reduce((s, p) => s + p.bytes, 0),
        requests: burst.length,
      });
      if (tick === 1 || tick === TICKS) console.log(`agent-rss tick ${tick}: VmRSS ${mb(mem.vmRss)} MB, ${burst.reduce((s, p) => s + p.series, 0)} series`);
    }
    const endText = await (await fetch(`${agentUrl}/metrics`)).text();
    const mappings = rssByMapping(pid);
    const stats = await fakesStats();

    // Judge the run before reporting anything from it.
    const last = sink.pushes.slice(-samples[samples.length - 1].requests);
    const byJob = new Map<string, number>();
    for (const p of last) for (const [j, n] of p.byJob) byJob.set(j, (byJob.get(j) ?? 0) + n);
    const podSeries = byJob.get(JOB_KUBELET) ?? 0;
    const nodeSeries = byJob.get(JOB_NODE) ?? 0;
    const pods = new Set(last.flatMap((p) => [...p.pods]));
    const withImage = last.reduce((s, p) => s + p.withImage, 0);
    const problems: string[] = [];
    if (sink.errors.length) problems.push(`undecodable pushes: ${sink.errors.slice(0, 3).join('; ')}`);
    if (!sink.pushes.every((p) => p.authorized)) problems.push('pushes without the bearer token');
    if (podSeries < POD_SERIES_RANGE[0] || podSeries > POD_SERIES_RANGE[1]) problems.push(`${podSeries} pod/container series in the last tick, expected ${POD_SERIES_RANGE.join('-')}`);
    if (nodeSeries < 100) problems.push(`${nodeSeries} node series in the last tick, expected at least 100 (this machine's /proc and /sys)`);
    if (pods.size !== node.pods.length) problems.push(`${pods.size} pods in the last tick's series, expected ${node.pods.length}`);
    if (withImage === 0) problems.push('no container series carries an image label: the pod watch did not name the pods');
    if (metricValue(endText, 'kubepulse_agent_kubelet_up') !== 1) problems.push(`kubepulse_agent_kubelet_up is ${metricValue(endText, 'kubepulse_agent_kubelet_up')}, not 1`);
    for (const source of ['kubelet', 'cgroup']) {
      const n = metricValue(endText, 'kubepulse_agent_source_errors_total', { source }) ?? 0;
      if (n > 0) problems.push(`${n} ${source} source errors: ${endText.split('\n').filter((l) => l.startsWith('kubepulse_agent_source_errors_total') && l.includes(`source="${source}"`)).join(', ')}`);
    }
    if ((metricValue(endText, 'kubepulse_agent_samples_dropped_total') ?? 0) > 0) problems.push('the agent dropped samples');
    const sentPerTick = samples.length > 1 ? (samples[samples.length - 1].metrics.samplesSent - samples[0].metrics.samplesSent) / (samples.length - 1) : NaN;
    if (!(Math.abs(sentPerTick - samples[samples.length - 1].series) <= 0.05 * samples[samples.length - 1].series)) problems.push(`samples sent per tick ${sentPerTick} does not match the ${samples[samples.length - 1].series} series pushed`);
    if (stats.podLists < 1 || stats.podWatches < 1) problems.push(`the pod watch did not run: ${JSON.stringify(stats)}`);
    if (stats.unscopedPodRequests > 0) problems.push(`${stats.unscopedPodRequests} pod requests without fieldSelector=spec.nodeName=${nodeName}`);
    if (stats.summaryRequests < TICKS) problems.push(`${stats.summaryRequests} /stats/summary requests for ${TICKS} ticks`);
    if (problems.length) throw broken(`the run is not valid:\n- ${problems.join('\n- ')}`);

    // The heap snapshot last: writing it costs the process hundreds of MB.
    let heap: HeapSummary | undefined;
    if (SNAPSHOT) {
      const before = new Set(readdirSync(agentCwd));
      agent.kill('SIGUSR2');
      const deadline = Date.now() + 120_000;
      let file = '';
      let size = -1;
      for (;;) {
        if (Date.now() > deadline) throw broken('no heap snapshot within 120 s of SIGUSR2');
        await sleep(500);
        file ||= readdirSync(agentCwd).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)) ?? '';
        if (!file) continue;
        // The main thread writes the file; once /healthz answers and the size holds, it is done.
        const s = statSync(join(agentCwd, file)).size;
        const alive = await fetch(`${agentUrl}/healthz`).then((r) => r.ok, () => false);
        if (alive && s === size && s > 0) break;
        size = s;
      }
      await stop(agent);
      heap = summariseHeapSnapshot(join(agentCwd, file));
      rmSync(join(agentCwd, file));
    }
    await stop(agent);

    // Import-only RSS, each in a fresh process (after the agent, so as not to share its CPU).
    const imports: Array<{ what: string; m: ProcMemory & { heapUsed: number } }> = [];
    const bareImport = importRss(out, []);
    imports.push({ what: '(nothing: bare node)', m: bareImport });
    for (const dep of DEPENDENCIES) imports.push({ what: dep, m: importRss(out, [dep]) });
    imports.push({ what: 'all of the agent\'s dependencies above but fastify', m: importRss(out, DEPENDENCIES.filter((d) => d !== 'fastify')) });
    imports.push({ what: 'the agent\'s whole module graph (agent/main.js imported, not started)', m: importRss(out, ['./agent/main.js']) });

    // ---- Report --------------------------------------------------------------------
    const steady = samples.slice(Math.floor(samples.length / 2));
    const cpuPerInterval = samples.slice(1).map((s, i) => (s.cpuSeconds - samples[i].cpuSeconds) * 1000);
    const steadyRss = median(steady.map((s) => s.mem.vmRss));
    const steadyAnon = median(steady.map((s) => s.mem.rssAnon));
    const steadyFile = median(steady.map((s) => s.mem.rssFile));
    const peak = samples[samples.length - 1].mem.vmHwm;
    const lastS = samples[samples.length - 1];
    const tickMs = ((lastS.metrics.tickSum - samples[0].metrics.tickSum) / Math.max(1, lastS.metrics.tickCount - samples[0].metrics.tickCount)) * 1000;
    const nodeBinary = mappings.find((m) => m.mapping === process.execPath || m.mapping.endsWith('/node'));
    const ratioGoal = steadyRss / GOAL_BYTES;

    const main = [
      ['steady RSS: median VmRSS of ticks ' + `${steady[0].tick}-${lastS.tick} (MB)`, mb(steadyRss)],
      ['… RssAnon / RssFile (MB)', `${mb(steadyAnon)} / ${mb(steadyFile)}`],
      ['peak RSS: VmHWM at the last tick (MB)', mb(peak)],
      ['agent\'s own process_resident_memory_bytes at the last tick (MB)', mb(lastS.metrics.rss)],
      ['V8 heap used / total (nodejs_heap_size_*), median of the same ticks (MB)', `${mb(median(steady.map((s) => s.metrics.heapUsed)))} / ${mb(median(steady.map((s) => s.metrics.heapTotal)))}`],
      ['external memory (nodejs_external_memory_bytes, ArrayBuffers/Buffers) (MB)', mb(median(steady.map((s) => s.metrics.external)))],
      ['process CPU per interval, median (min-max) (ms)', `${median(cpuPerInterval).toFixed(0)} (${Math.min(...cpuPerInterval).toFixed(0)}-${Math.max(...cpuPerInterval).toFixed(0)})`],
      ['tick duration, mean from kubepulse_agent_tick_duration_seconds (ms, wall)', tickMs.toFixed(1)],
      ['series per tick: pod/container (job kubelet) + node (job node-exporter) + other', `${podSeries} + ${nodeSeries} + ${lastS.series - podSeries - nodeSeries} = ${lastS.series}`],
      ['bytes pushed per tick (snappy protobuf, KiB) in requests', `${(lastS.bytes / 1024).toFixed(1)} in ${lastS.requests}`],
    ];
    const perTick = samples.map((s, i) => [
      String(s.tick),
      mb(s.mem.vmRss),
      mb(s.mem.rssAnon),
      mb(s.mem.rssFile),
      mb(s.mem.vmHwm),
      mb(s.metrics.heapUsed),
      mb(s.metrics.heapTotal),
      i === 0 ? '—' : cpuPerInterval[i - 1].toFixed(0),
      String(s.series),
    ]);
    const refs = [
      ['kubepulse agent (this run, steady)', mb(steadyRss), mb(steadyAnon), mb(steadyFile), mb(peak), `${lastS.series} (${podSeries} pod/container + ${nodeSeries} node)`],
      ['bare `node --max-semi-space-size=1 -e \'setInterval(()=>{},1000)\'`', mb(bare.vmRss), mb(bare.rssAnon), mb(bare.rssFile), mb(bare.vmHwm), '—'],
      exporter
        ? [`prometheus-node-exporter ${exporter.version}, default collectors, after 5 scrapes`, mb(exporter.vmRss), mb(exporter.rssAnon), mb(exporter.rssFile), mb(exporter.vmHwm), `${exporter.series} (node only, no pods)`]
        : ['prometheus-node-exporter', 'not installed', '', '', '', ''],
    ];
    const importRows = imports.map(({ what, m }) => [
      what,
      mb(m.vmRss),
      m === bareImport ? '—' : `+${mb(m.vmRss - bareImport.vmRss)}`,
      mb(m.rssAnon),
      m === bareImport ? '—' : `+${mb(m.rssAnon - bareImport.rssAnon)}`,
      mb(m.heapUsed),
    ]);
    const heapRows = (rows: HeapRow[]) => rows.map((r) => [r.name.replace(/\|/g, '\\|'), (r.bytes / 1024).toFixed(0), String(r.count)]);
    const mappingRows = mappings.slice(0, 10).map((m) => [m.mapping.replace(REPO_ROOT, '<repo>').replace(work, '<tmp>'), mb(m.bytes)]);
    const anonOutsideHeap = steadyAnon - median(steady.map((s) => s.metrics.heapTotal));
    const kn = imports.find((i) => i.what === '@kubernetes/client-node');

    const date = execFileSync('date', ['-u'], { encoding: 'utf8' }).trim();
    const md = `# The whole agent process's memory on a 110-pod / 250-container node

Command: \`npx vitest run --config vitest.bench.config.ts test/bench/agent-rss.bench.ts\` (${TICKS} ticks, env \`KUBEPULSE_BENCH_AGENT_RSS_TICKS\`; interval ${INTERVAL}, env \`KUBEPULSE_BENCH_AGENT_RSS_INTERVAL\`; heap snapshot ${SNAPSHOT ? 'on' : 'off'}, env \`KUBEPULSE_BENCH_AGENT_RSS_SNAPSHOT=0\` turns it off; experiments with more node flags or environment, \`KUBEPULSE_BENCH_AGENT_RSS_NODE_FLAGS='--single-threaded'\`, \`KUBEPULSE_BENCH_AGENT_RSS_ENV=MALLOC_ARENA_MAX=2\`, print their figures without writing this file)
Date: ${date}
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, shared with other jobs (figures are noisy; 1-min load average at the end of the run: ${loadavg()[0].toFixed(1)}).
${typeProblems ? `\nNote: tsc reported type errors in files being edited when this ran (the agent was emitted and ran anyway; the run checks below passed):\n\n\`\`\`\n${typeProblems.split('\n').filter((l) => /^\S+\.ts\(/.test(l)).slice(0, 5).join('\n')}\n\`\`\`\n` : ''}
The real program as the DaemonSet runs it: agent/, shared/ built with tsconfig.build.json
(into a temp dir, as \`npm run build\` would into dist/), started as

    ${Object.entries({ ...DAEMONSET_ENV, ...EXTRA_ENV }).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v} `).join('')}NODE_NAME=${nodeName} ${agentCommand.join(' ')}

(the \`--heapsnapshot-signal\` flag only installs a signal handler; the snapshot is taken after
the last measured tick). Around it, each in its own process so that its memory is not the
agent's: the fake kubelet (HTTPS with its own CA, bearer token) serving the generated
node's \`/stats/summary\` (${(node.summary.length / 1024).toFixed(0)} KiB; 110 pods, 250 containers, from the real 1.35
capture), the fake API server (plain HTTP, token required) holding the ${node.pods.length} pods for the
node-scoped list/watch (\`fieldSelector=spec.nodeName=${nodeName}\`; ${stats.podLists} list(s), ${stats.podWatches} watch(es)
seen), the generated cgroup v2 tree (systemd driver, containerd), this machine's real
/proc and /sys for the node series, and a remote_write sink in the bench process that
decodes every push (${sink.pushes.length} pushes received). Memory from /proc/<pid>/status after
each tick's pushes, heap figures from the agent's own /metrics (one scrape per tick,
counted in its CPU), CPU from /proc/<pid>/stat.

${table(['measure', 'value'], main)}

Goal (issue 4): agent RSS under 60 MB. Steady RSS is **${(ratioGoal * 100).toFixed(0)} % of the goal**
(${ratioGoal.toFixed(2)} ×; ${mb(steadyRss - GOAL_BYTES)} MB over)${exporter ? `, ${(steadyRss / exporter.vmRss).toFixed(1)} × node_exporter's RSS` : ''}; the agent adds
${mb(steadyRss - bare.vmRss)} MB (RssAnon +${mb(steadyAnon - bare.rssAnon)} MB) to a bare Node process.

## Reference points (same run)

${table(['process', 'RSS (MB)', 'RssAnon (MB)', 'RssFile (MB)', 'VmHWM (MB)', 'series'], refs)}

node_exporter is the peer of the agent's node part only: it reads /proc and /sys and
does no pods, no cgroups, no kubelet, no API watch and no pushing. A bare Node process
is the floor any Node agent pays (mostly the mapped node binary: RssFile).

## Per tick

${table(['tick', 'VmRSS', 'RssAnon', 'RssFile', 'VmHWM', 'heap used', 'heap total', 'CPU since previous (ms)', 'series'], perTick)}

## Where the memory goes

RSS by mapping at the last tick (/proc/<pid>/smaps; \`(anonymous)\` is V8's heap pages,
malloc's mmap arenas and thread stacks; \`[heap]\` is malloc's brk area):

${table(['mapping', 'RSS (MB)'], mappingRows)}

RssAnon ${mb(steadyAnon)} MB = the V8 heap as committed (${mb(median(steady.map((s) => s.metrics.heapTotal)))} MB, of which ${mb(median(steady.map((s) => s.metrics.heapUsed)))} MB in use)
+ ${mb(anonOutsideHeap)} MB outside it (malloc: OpenSSL, the snappy addon, Buffers' backing stores, libuv,
V8's own tables and compiled code metadata). RssFile ${mb(steadyFile)} MB is mostly the node binary
(${nodeBinary ? mb(nodeBinary.bytes) : '?'} MB resident), which a bare process maps too.

Import-only RSS of each dependency, each in a fresh \`node --max-semi-space-size=1\` process
(1.5 s after the import; fastify is not imported by the agent, for reference):

${table(['imported', 'RSS (MB)', 'Δ RSS', 'RssAnon (MB)', 'Δ RssAnon', 'V8 heap used (MB)'], importRows)}
${
  heap
    ? `
The agent's V8 heap after ${TICKS} ticks (heap snapshot by \`--heapsnapshot-signal=SIGUSR2\`,
${(heap.totalBytes / 1024 / 1024).toFixed(1)} MB live in ${heap.nodeCount} objects after the snapshot's GC). Self size by type:

${table(['type', 'KiB', 'objects'], heapRows(heap.byType))}

Self size by type and constructor (strings, numbers folded):

${table(['type: name', 'KiB', 'objects'], heapRows(heap.byName))}

Largest retainers (retained size from the dominator tree; \`Owner.edge → Object\`; nested,
so a retainer's parts follow it):

${table(['object', 'retained KiB', ''], heapRows(heap.topRetainers))}

What the outermost of them hold (self size by type and constructor inside each one's retained set):

${heap.composition.map((c) => `**${c.owner}** (${(c.bytes / 1024).toFixed(0)} KiB${c.owner === 'Sampler' ? `, ${(c.bytes / lastS.series).toFixed(0)} bytes per series` : ''}):\n\n${table(['type: name', 'KiB', 'objects'], heapRows(c.parts))}`).join('\n\n')}

Objects held through a WeakMap (such as a cache of encoded label sets keyed by the label arrays) have
two owners, the map and the key, so the dominator tree gives them to the root: look for them
in the self-size table (\`object: Buffer\`, \`native: system / JSArrayBufferData\`).
`
    : ''
}
Breakdown: of the ${mb(steadyRss)} MB, ~${mb(bare.vmRss)} MB is any Node process (${mb(bare.rssFile)} MB of it the mapped
binary); importing the agent's code and dependencies without running it costs
${mb(imports[imports.length - 1].m.vmRss - bareImport.vmRss)} MB more${
      kn ? (kn.m.vmRss > imports[imports.length - 1].m.vmRss ? ` (less than @kubernetes/client-node alone, +${mb(kn.m.vmRss - bareImport.vmRss)} MB: the agent does not load it at start)` : ` (@kubernetes/client-node alone +${mb(kn.m.vmRss - bareImport.vmRss)} MB)`) : ''
    }; the rest,
${mb(steadyRss - imports[imports.length - 1].m.vmRss)} MB, is the running agent's state and working memory (series table,
label caches, the summary parse, push buffers, TLS) and the heap headroom V8 keeps.
`;
    if (!VARIANT) writeFileSync(join(REPO_ROOT, 'test/bench/results/agent-rss.md'), md);
    console.log(md);
    expect(steadyRss).toBeGreaterThan(bare.vmRss);
  } finally {
    await stop(agent);
    await stop(fakes, 'stdin');
    await sink?.close();
    rmSync(work, { recursive: true, force: true });
  }
});
