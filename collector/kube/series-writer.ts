/**
 * Keeps the kube-state-metrics series of every cached object and appends them all at a
 * fixed interval through an `Appendable`, each with `job` and `cluster`. A series that
 * disappears (object deleted, or a label value changed, e.g. a new phase or reason)
 * gets one stale marker at the next flush, as Prometheus writes when a scrape target
 * stops exposing a series. Series are recomputed only when an object's
 * resourceVersion changes.
 */
import {
  STALE_NAN,
  labelsFromObject,
  labelsKey,
  noopLogger,
  errorMessage,
  type Label,
  type Labels,
  type Logger,
} from '../../shared/index.js';
import type { Appendable, Appender, MetricMetadataRecord } from '../storage/interface.js';
import type { KsmOptions, KsmSample, Obj } from './ksm/index.js';
import type { WatchedResource } from './resources.js';

/**
 * The series of one object: label sets and values in parallel. Label objects are
 * shared within the object (its base labels appear in every series) and `__name__`,
 * `job` and `cluster` across objects, which is what keeps 30,000 pods affordable.
 */
interface ObjSeries {
  rv: string;
  labels: Labels[];
  values: Float64Array;
}

export interface SeriesWriterOptions {
  /** `job` label of every kube-state-metrics series. Default `kube-state-metrics`. */
  job?: string;
  /** `cluster` label of every series. */
  cluster: string;
  ksm?: KsmOptions;
  logger?: Logger;
}

/** Extra series (self-metrics) appended with each flush; labels without job/cluster. */
export interface ExtraSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  type: MetricMetadataRecord['type'];
  help: string;
}

const COUNTERS = new Set(['kube_pod_container_status_restarts_total']);

/** Labels whose few values are shared by every object (a bounded set in any cluster). */
const LOW_CARDINALITY = new Set([
  'phase',
  'condition',
  'status',
  'reason',
  'resource',
  'unit',
  'qos_class',
  'host_network',
  'owner_kind',
  'owner_is_controller',
  'created_by_kind',
  'type',
  'effect',
  'operator',
  'role',
  'namespace',
  'node',
]);

const byName = (a: Label, b: Label) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** See the module comment. Not safe for concurrent flushes (the collector runs one). */
export class KubeSeriesWriter {
  private readonly objects = new Map<string, ObjSeries>();
  private stale = new Map<string, Labels>();
  private readonly job: string;
  private readonly cluster: string;
  private readonly ksm: KsmOptions;
  private readonly log: Logger;
  private readonly families = new Set<string>();
  private readonly sharedLabels = new Map<string, Label>();
  private readonly jobLabel: Label;
  private readonly clusterLabel: Label;
  /** Samples the store refused in the last flush. */
  lastRejected = 0;

  constructor(opts: SeriesWriterOptions) {
    this.job = opts.job ?? 'kube-state-metrics';
    this.cluster = opts.cluster;
    this.ksm = opts.ksm ?? {};
    this.log = opts.logger ?? noopLogger();
    this.jobLabel = { name: 'job', value: this.job };
    this.clusterLabel = { name: 'cluster', value: this.cluster };
  }

  /** Number of series currently held. */
  get seriesCount(): number {
    let n = 0;
    for (const o of this.objects.values()) n += o.labels.length;
    return n;
  }

  private key(r: WatchedResource, o: Obj): string {
    return `${r.resource}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }

  private shared(name: string, value: string): Label {
    const k = `${name}\xff${value}`;
    let l = this.sharedLabels.get(k);
    if (!l) this.sharedLabels.set(k, (l = { name, value }));
    return l;
  }

  /** Labels of one sample: its own plus `__name__`, job and cluster, sorted; `local` interns within one object. */
  private toLabels(s: KsmSample, local: Map<string, Label>): Labels {
    let n = 3;
    for (const name in s.labels) if (s.labels[name] !== '') n++;
    // Exactly sized: a pushed-to array keeps spare capacity, which at a million series adds up.
    const out: Label[] = new Array<Label>(n);
    out[0] = this.shared('__name__', s.name);
    out[1] = this.jobLabel;
    out[2] = this.clusterLabel;
    let i = 3;
    for (const name in s.labels) {
      const value = s.labels[name];
      if (value === '') continue;
      if (LOW_CARDINALITY.has(name)) {
        out[i++] = this.shared(name, value);
        continue;
      }
      const k = `${name}\xff${value}`;
      let l = local.get(k);
      if (!l) local.set(k, (l = { name, value }));
      out[i++] = l;
    }
    return out.sort(byName);
  }

  /** Records the current state of an object (a no-op when its resourceVersion is unchanged). */
  upsert(r: WatchedResource, o: Obj): void {
    if (!r.samples) return;
    const k = this.key(r, o);
    const rv = String(o.metadata?.resourceVersion ?? '');
    const prev = this.objects.get(k);
    if (prev && rv !== '' && prev.rv === rv) return;
    const samples = r.samples(o, this.ksm);
    const local = new Map<string, Label>();
    const labels: Labels[] = new Array(samples.length);
    const values = new Float64Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      labels[i] = this.toLabels(samples[i], local);
      values[i] = samples[i].value;
      this.families.add(samples[i].name);
    }
    if (prev) {
      const now = new Set(labels.map(labelsKey));
      for (const l of prev.labels) {
        const lk = labelsKey(l);
        if (!now.has(lk)) this.stale.set(lk, l);
      }
      for (const lk of now) this.stale.delete(lk);
    } else if (this.stale.size > 0) {
      // A re-created object: its series are live again.
      for (const l of labels) this.stale.delete(labelsKey(l));
    }
    this.objects.set(k, { rv, labels, values });
  }

  /** Forgets an object; its series get stale markers at the next flush. */
  remove(r: WatchedResource, o: Obj): void {
    const k = this.key(r, o);
    const prev = this.objects.get(k);
    if (!prev) return;
    this.objects.delete(k);
    for (const l of prev.labels) this.stale.set(labelsKey(l), l);
  }

  /** Every current series, for tests and the topology. */
  *current(): Iterable<{ labels: Labels; v: number }> {
    for (const o of this.objects.values()) for (let i = 0; i < o.labels.length; i++) yield { labels: o.labels[i], v: o.values[i] };
  }

  /**
   * Appends every current series at `t` (ms), stale markers for vanished ones, and
   * `extra`, in one commit. Samples the store refuses are counted in `lastRejected`
   * and skipped; an error in commit is thrown after a rollback.
   */
  flush(store: Appendable, t: number, extra: readonly ExtraSample[] = []): { appended: number; stale: number } {
    const app: Appender = store.appender();
    let appended = 0;
    let rejected = 0;
    const put = (labels: Labels, v: number) => {
      try {
        app.append(labels, t, v);
        appended++;
      } catch (err) {
        if (rejected++ === 0) this.log.warn({ err: errorMessage(err) }, 'store refused a kube-state sample');
      }
    };
    const staleN = this.stale.size;
    try {
      for (const labels of this.stale.values()) put(labels, STALE_NAN);
      for (const o of this.objects.values()) for (let i = 0; i < o.labels.length; i++) put(o.labels[i], o.values[i]);
      for (const e of extra) put(labelsFromObject({ ...e.labels, __name__: e.name, cluster: this.cluster }), e.value);
      for (const f of this.families) {
        app.updateMetadata({ metric: f, type: COUNTERS.has(f) ? 'counter' : 'gauge', help: `kube-state-metrics compatible: ${f.replace(/_/g, ' ')}`, unit: '' });
      }
      for (const e of extra) app.updateMetadata({ metric: e.name, type: e.type, help: e.help, unit: '' });
      app.commit();
    } catch (err) {
      app.rollback();
      throw err;
    }
    this.stale = new Map();
    this.lastRejected = rejected;
    return { appended, stale: staleN };
  }
}
