/**
 * A batch in the Prometheus text format: what `--once` prints.
 */
import type { ExposedSample } from '../shared/index.js';
import { formatFamily, getLabel, isStaleNaN } from '../shared/index.js';
import type { Batch } from './sampler.js';

export function formatBatch(batch: Batch, withTimestamps = false): string {
  const byName = new Map<string, ExposedSample[]>();
  for (const s of batch.series) {
    const name = getLabel(s.labels, '__name__');
    let fam = byName.get(name);
    if (!fam) byName.set(name, (fam = []));
    for (const x of s.samples) {
      if (!isStaleNaN(x.v)) fam.push({ labels: s.labels, v: x.v, t: withTimestamps ? x.t : undefined });
    }
  }
  let out = '';
  for (const name of [...byName.keys()].sort()) {
    const f = batch.families.get(name);
    out += formatFamily({ name, help: f?.help ?? 'No help given by the source.', type: f?.type ?? 'untyped' }, byName.get(name) ?? []);
  }
  return out;
}
