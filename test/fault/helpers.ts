/**
 * Shared parts of the fault tests: a real collector (buildServer + writePlugin + the
 * SQLite store) in this process, synthetic agent batches with known contents, and a
 * compiler for the child-process entry points (Node 20 cannot run TypeScript).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import type { FastifyInstance } from 'fastify';
import type { TimeSeries } from '../../shared/index.js';
import { labelsFromObject } from '../../shared/index.js';
import type { Batch, FamilyInfo } from '../../agent/sampler.js';
import type { Appendable } from '../../collector/storage/index.js';
import { openTsdb, type Tsdb } from '../../collector/tsdb/index.js';
import { buildServer } from '../../collector/web/server.js';
import { writePlugin, type WritePluginOptions } from '../../collector/ingest/write-plugin.js';
import { healthPlugin } from '../../collector/web/health-plugin.js';
import { REPO_ROOT } from '../helpers/paths.js';

export interface InProcessCollector {
  app: FastifyInstance;
  store: Tsdb;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A collector on 127.0.0.1:`port` (0 = any) storing into `dataDir`. */
export async function startCollector(dataDir: string, port = 0, ingest: Partial<WritePluginOptions> = {}, onCommit?: (minT: number, maxT: number) => void): Promise<InProcessCollector> {
  const store = openTsdb({ dataDir });
  // Observes the order in which requests are stored (backfill order).
  const appendable: Appendable = {
    appender: () => {
      const a = store.appender();
      let minT = Infinity;
      let maxT = -Infinity;
      return {
        append: (l, t, v) => {
          a.append(l, t, v);
          if (t < minT) minT = t;
          if (t > maxT) maxT = t;
        },
        updateMetadata: (m) => a.updateMetadata(m),
        commit: () => {
          a.commit();
          if (maxT >= minT) onCommit?.(minT, maxT);
        },
        rollback: () => a.rollback(),
      };
    },
  };
  const app = await buildServer({
    plugins: [
      { plugin: healthPlugin, opts: { readiness: { ready: () => true } } },
      { plugin: writePlugin, opts: { appendable, maxBodyBytes: 32 << 20, maxDecompressedBytes: 128 << 20, ...ingest } },
    ],
  });
  await app.listen({ host: '127.0.0.1', port });
  const bound = (app.server.address() as { port: number }).port;
  return {
    app,
    store,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
      store.close();
    },
  };
}

const FAMILIES: ReadonlyMap<string, FamilyInfo> = new Map([['fault_test_value', { type: 'gauge', help: 'Synthetic series of the fault tests.' }]]);

/** Tick `i` of a node: `series` series, sample value a function of (series, tick). */
export function syntheticBatch(t: number, i: number, series: number, node = 'n1'): Batch {
  const out: TimeSeries[] = [];
  for (let s = 0; s < series; s++) {
    out.push({ labels: labelsFromObject({ __name__: 'fault_test_value', node, s: String(s) }), samples: [{ t, v: expectedValue(s, i) }] });
  }
  return { t, series: out, families: FAMILIES, samples: series };
}

export function expectedValue(series: number, tick: number): number {
  return series * 1_000_000 + tick;
}

/** Timestamps stored for `node`'s series `s`, in store order. */
export function storedTimes(store: Tsdb, node: string, s: number): number[] {
  const q = store.querier(0, Number.MAX_SAFE_INTEGER);
  const sel = q.select([
    { type: '=', name: '__name__', value: 'fault_test_value' },
    { type: '=', name: 'node', value: node },
    { type: '=', name: 's', value: String(s) },
  ]);
  q.close();
  return sel.length ? [...sel[0].t] : [];
}

/** Problems with `node`'s stored data against ticks `0..ticks-1` at `t0 + i*stepMs`; [] when complete. */
export function checkComplete(store: Tsdb, node: string, series: number, ticks: number, t0: number, stepMs: number): string[] {
  const problems: string[] = [];
  const q = store.querier(0, Number.MAX_SAFE_INTEGER);
  const sel = q.select([
    { type: '=', name: '__name__', value: 'fault_test_value' },
    { type: '=', name: 'node', value: node },
  ]);
  q.close();
  const bySeries = new Map(sel.map((x) => [Number(x.labels.find((l) => l.name === 's')?.value), x]));
  for (let s = 0; s < series && problems.length < 10; s++) {
    const x = bySeries.get(s);
    if (!x) {
      problems.push(`series ${s}: missing`);
      continue;
    }
    if (x.t.length !== ticks) problems.push(`series ${s}: ${x.t.length} samples, want ${ticks}`);
    for (let i = 0; i < Math.min(ticks, x.t.length); i++) {
      if (x.t[i] !== t0 + i * stepMs || x.v[i] !== expectedValue(s, i)) {
        problems.push(`series ${s}: sample ${i} is (${x.t[i]}, ${x.v[i]}), want (${t0 + i * stepMs}, ${expectedValue(s, i)})`);
        break;
      }
    }
  }
  return problems;
}

/**
 * Transpiles `entries` and every relative module they import to JavaScript under
 * node_modules/.cache (so a child process still resolves the repository's packages).
 * Type-stripping only (`ts.transpileModule`), which takes a second where a full `tsc`
 * build takes half a minute; the type check is vitest's and `npm run typecheck`'s job.
 */
export function compileForChild(entries: readonly string[]): { js: (entry: string) => string; cleanup: () => void } {
  const out = join(REPO_ROOT, 'node_modules', '.cache', `kp-fault-${process.pid}-${Date.now()}`);
  const todo = entries.map((e) => join(REPO_ROOT, e));
  const done = new Set<string>();
  while (todo.length) {
    const file = todo.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) todo.push(resolve(dirname(file), m[1] + '.ts'));
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true }, fileName: file }).outputText;
    const dest = join(out, relative(REPO_ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  return { js: (entry) => join(out, entry.replace(/\.ts$/, '.js')), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}
