import { it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWriteRequestBody, labelsFromObject } from '../../shared/index.js';
import { Spool } from '../../agent/shipper/spool.js';
it('prof', () => {
  const labels = Array.from({ length: 4800 }, (_, i) => labelsFromObject({ __name__: 'container_x_total', pod: 'pod-' + i, namespace: 'ns', container: 'app', node: 'n1', job: 'kubelet' }));
  const bodies: Buffer[] = [];
  for (let k = 0; k < 120; k++) bodies.push(encodeWriteRequestBody({ timeseries: labels.map((l, i) => ({ labels: l, samples: [{ t: k * 10000, v: Math.random() * 1e9 }] })) }));
  for (const compact of [false, true]) {
    const s = new Spool({ dir: mkdtempSync(join(tmpdir(), 'p-')), maxBytes: 1 << 30, compact });
    const t = performance.now();
    for (const b of bodies) s.append(b, 4800, 0, 0);
    console.log(compact, performance.now() - t, s.bytes);
  }
});
