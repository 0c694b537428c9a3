/**
 * Stores the collector's own metrics as series, the way a Prometheus scraping itself
 * would, so the default rules about the collector (and dashboards) can query them.
 */
import type { Registry } from 'prom-client';
import type { Label, Logger, MetricTypeName } from '../shared/index.js';
import { labelsFromObject, noopLogger } from '../shared/index.js';
import type { Appendable } from './storage/index.js';

export interface SelfScrapeOptions {
  registry: Registry;
  appendable: Appendable;
  /** Labels on every series: `job`, `instance`, `cluster`. */
  targetLabels: Readonly<Record<string, string>>;
  intervalMs: number;
  logger?: Logger;
  now?: () => number;
}

/** Appends one snapshot of the registry; returns the number of samples stored. */
export async function scrapeOnce(opts: SelfScrapeOptions): Promise<number> {
  const t = (opts.now ?? Date.now)();
  const families = await opts.registry.getMetricsAsJSON();
  const app = opts.appendable.appender();
  let n = 0;
  try {
    for (const f of families) {
      app.updateMetadata({ metric: f.name, type: String(f.type) as MetricTypeName, help: f.help, unit: '' });
      for (const v of f.values) {
        const name = (v as { metricName?: string }).metricName ?? f.name;
        const labels = labelsFromObject({ ...opts.targetLabels, ...stringLabels(v.labels), __name__: name }) as Label[];
        app.append(labels, t, v.value);
        n++;
      }
    }
    app.commit();
  } catch (err) {
    app.rollback();
    throw err;
  }
  return n;
}

function stringLabels(ls: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ls)) if (v !== undefined) out[k] = String(v);
  return out;
}

/** Scrapes every interval until the returned stop function is called. */
export function startSelfScrape(opts: SelfScrapeOptions): () => void {
  const log = (opts.logger ?? noopLogger()).child({ component: 'self-scrape' });
  let failing = false;
  const tick = () => {
    scrapeOnce(opts).then(
      () => (failing = false),
      (err: unknown) => {
        if (!failing) log.warn({ err }, 'Storing the collector\'s own metrics failed');
        failing = true;
      },
    );
  };
  tick();
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
