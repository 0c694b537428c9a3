/**
 * The agent's self-metrics registry: counters, gauges and histograms with labels, the
 * process and Node.js metrics Prometheus users expect (`process_*`, `nodejs_*`, named as
 * prom-client names them), written in the text format by shared/exposition.ts.
 *
 * Why not prom-client, as the collector uses: the agent runs on every node under a
 * memory goal (issue 4: 60 MB), and prom-client imported alone adds about 5 MB of
 * anonymous memory to a bare Node process (the import table of
 * test/bench/results/agent-rss.md), before its default collectors run, for about twenty
 * series. The option names match
 * prom-client's (`name`, `help`, `labelNames`, `buckets`, `registers`), so code written
 * against one reads the same against the other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { formatValue, escapeHelp, escapeLabelValue, TEXT_CONTENT_TYPE, type MetricTypeName } from '../shared/index.js';

type LabelValues = Readonly<Record<string, string | number>>;

interface Collectable {
  readonly name: string;
  /** The family in the text format, HELP and TYPE lines included. */
  expose(): string;
}

export class Registry {
  readonly contentType = TEXT_CONTENT_TYPE;
  private readonly families = new Map<string, Collectable>();
  private readonly collectors: Array<() => string | Promise<string>> = [];

  /** Adds a metric; a second one of the same name is refused, as prom-client does. */
  register(m: Collectable): void {
    if (this.families.has(m.name)) throw new Error(`a metric named ${m.name} is already registered`);
    this.families.set(m.name, m);
  }

  /** Adds families computed at each scrape (process metrics). */
  registerCollector(collect: () => string | Promise<string>): void {
    this.collectors.push(collect);
  }

  /** Every family in the text format. */
  async metrics(): Promise<string> {
    let out = '';
    for (const c of this.collectors) out += await c();
    for (const m of this.families.values()) out += m.expose();
    return out;
  }

  /** One family in the text format ('' when there is none of that name). */
  getSingleMetricAsString(name: string): string {
    return this.families.get(name)?.expose() ?? '';
  }
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: readonly Registry[];
}

/** Values per label combination; the key is the label values joined in `labelNames` order. */
abstract class Metric<V> implements Collectable {
  readonly name: string;
  protected readonly help: string;
  protected readonly labelNames: readonly string[];
  protected readonly values = new Map<string, { labels: string; v: V }>();
  protected abstract readonly type: MetricTypeName;

  constructor(o: MetricOptions) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(o.name)) throw new Error(`invalid metric name: ${o.name}`);
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames ?? [];
    for (const r of o.registers ?? []) r.register(this);
  }

  /** Drops every labelled value (prom-client's `reset`). */
  reset(): void {
    this.values.clear();
  }

  protected slot(labels: LabelValues | undefined, init: () => V): { labels: string; v: V } {
    let key = '';
    for (const n of this.labelNames) {
      const value = labels?.[n];
      if (value === undefined) throw new Error(`${this.name}: label "${n}" is missing`);
      key += String(value) + '\u0000';
    }
    if (labels) for (const n of Object.keys(labels)) if (!this.labelNames.includes(n)) throw new Error(`${this.name}: unknown label "${n}"`);
    let s = this.values.get(key);
    if (!s) {
      // Rendered once per label combination, not on every inc/observe.
      const text = this.labelNames.map((n) => `${n}="${escapeLabelValue(String(labels?.[n]))}"`).join(',');
      s = { labels: text, v: init() };
      this.values.set(key, s);
    }
    return s;
  }

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract expose(): string;
}

/** `labels` first when the metric has labels, then the number; or the number alone. */
function args(a: LabelValues | number | undefined, b: number | undefined, dflt: number): [LabelValues | undefined, number] {
  return typeof a === 'object' ? [a, b ?? dflt] : [undefined, a ?? dflt];
}

function line(name: string, labels: string, v: number): string {
  return labels ? `${name}{${labels}} ${formatValue(v)}\n` : `${name} ${formatValue(v)}\n`;
}

export class Counter extends Metric<number> {
  protected readonly type = 'counter';
  inc(labels?: LabelValues | number, by?: number): void {
    const [l, n] = args(labels, by, 1);
    if (!(n >= 0)) throw new Error(`${this.name}: a counter cannot decrease (inc by ${n})`);
    this.slot(l, () => 0).v += n;
  }
  expose(): string {
    let out = this.header();
    if (this.values.size === 0 && this.labelNames.length === 0) out += line(this.name, '', 0);
    for (const s of this.values.values()) out += line(this.name, s.labels, s.v);
    return out;
  }
}

export class Gauge extends Metric<number> {
  protected readonly type = 'gauge';
  set(labels: LabelValues | number, value?: number): void {
    const [l, v] = args(labels, value, 0);
    this.slot(l, () => 0).v = v;
  }
  inc(labels?: LabelValues | number, by?: number): void {
    const [l, n] = args(labels, by, 1);
    this.slot(l, () => 0).v += n;
  }
  dec(labels?: LabelValues | number, by?: number): void {
    const [l, n] = args(labels, by, 1);
    this.slot(l, () => 0).v -= n;
  }
  expose(): string {
    let out = this.header();
    if (this.values.size === 0 && this.labelNames.length === 0) out += line(this.name, '', 0);
    for (const s of this.values.values()) out += line(this.name, s.labels, s.v);
    return out;
  }
}

interface HistogramValue {
  counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  protected readonly type = 'histogram';
  private readonly buckets: readonly number[];

  constructor(o: MetricOptions & { buckets?: readonly number[] }) {
    super(o);
    const b = o.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    for (let i = 1; i < b.length; i++) if (!(b[i] > b[i - 1])) throw new Error(`${o.name}: buckets must increase`);
    this.buckets = b;
  }

  observe(labels: LabelValues | number, value?: number): void {
    const [l, v] = args(labels, value, 0);
    const h = this.slot(l, () => ({ counts: new Float64Array(this.buckets.length), sum: 0, count: 0 })).v;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) h.counts[i]++;
    h.sum += v;
    h.count++;
  }

  expose(): string {
    let out = this.header();
    if (this.values.size === 0 && this.labelNames.length === 0) this.slot(undefined, () => ({ counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    for (const s of this.values.values()) {
      const sep = s.labels ? ',' : '';
      for (let i = 0; i < this.buckets.length; i++) out += `${this.name}_bucket{${s.labels}${sep}le="${formatValue(this.buckets[i])}"} ${s.v.counts[i]}\n`;
      out += `${this.name}_bucket{${s.labels}${sep}le="+Inf"} ${s.v.count}\n`;
      out += line(`${this.name}_sum`, s.labels, s.v.sum);
      out += line(`${this.name}_count`, s.labels, s.v.count);
    }
    return out;
  }
}

function family(name: string, type: MetricTypeName, help: string, v: number, labels = ''): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${line(name, labels, v)}`;
}

/** `VmRSS` etc. of /proc/self/status, in bytes; undefined off Linux. */
function procStatus(): Record<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(Vm\w+|Rss\w+):\s+(\d+) kB$/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}

function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the process and Node.js families prom-client's defaults give, under the
 * same names: CPU, start time, resident/virtual memory, open/max fds, heap, external
 * memory, event-loop lag and the Node.js version. Read at each scrape, nothing between.
 */
export function registerProcessMetrics(registry: Registry): void {
  const start = Math.round((Date.now() - performance.now()) / 1000);
  const [major, minor, patch] = process.versions.node.split('.');
  const limit = maxFds();
  registry.registerCollector(async () => {
    // prom-client's lag: how late a setImmediate runs after the scrape asked for it.
    const t0 = performance.now();
    const lag = await new Promise<number>((resolve) => setImmediate(() => resolve((performance.now() - t0) / 1000)));
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const st = procStatus();
    let out =
      family('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', cpu.user / 1e6) +
      family('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', cpu.system / 1e6) +
      family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6) +
      family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', start) +
      family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', st?.VmRSS ?? mem.rss);
    if (st) {
      out += family('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', st.VmSize ?? 0);
      out += family('process_heap_bytes', 'gauge', 'Process heap size in bytes.', st.VmData ?? 0);
      try {
        out += family('process_open_fds', 'gauge', 'Number of open file descriptors.', readdirSync('/proc/self/fd').length - 1);
      } catch {
        // not Linux
      }
    }
    if (limit !== undefined) out += family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', limit);
    out +=
      family('nodejs_eventloop_lag_seconds', 'gauge', 'Lag of event loop in seconds.', lag) +
      family('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', mem.heapTotal) +
      family('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', mem.heapUsed) +
      family('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', mem.external) +
      family('nodejs_version_info', 'gauge', 'Node.js version info.', 1, `version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"`);
    return out;
  });
}

/** A registry with the process metrics on it: what the agent serves on /metrics. */
export function createAgentRegistry(): Registry {
  const r = new Registry();
  registerProcessMetrics(r);
  return r;
}
