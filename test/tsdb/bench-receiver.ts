/**
 * The benchmark's remote_write receiver: a bare `node:http` server that decodes each push
 * with shared/wire.ts and appends it to a Tsdb in one commit, as the collector's ingest
 * path does, answering 204 once the commit returned. Runs in its own process so that its
 * CPU and memory are its own: `node --import ./test/tsdb/ts-register.mjs
 * test/tsdb/bench-receiver.ts <dataDir>`; prints `listening <port>`.
 *
 * Control endpoints: GET /stats (store sizes, memory after a GC, CPU seconds), POST /flush
 * (head to chunks, then one maintenance pass), GET /read?... (timed selects, uncached).
 */
import { createServer } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeWriteRequestBody } from '../../shared/index.js';
import { StorageError } from '../../collector/storage/index.js';
import type { Matcher } from '../../collector/storage/index.js';
import { openTsdb } from '../../collector/tsdb/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const db = openTsdb({ dataDir: process.argv[2], maintenanceIntervalMs: 0 });

function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external, rss: m.rss };
}
const baseline = memory();

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname === '/api/v1/write') {
        const wr = decodeWriteRequestBody(Buffer.concat(chunks));
        const app = db.appender();
        let rejected = 0;
        for (const ts of wr.timeseries) {
          for (const s of ts.samples) {
            try {
              app.append(ts.labels, s.t, s.v);
            } catch (err) {
              if (!(err instanceof StorageError)) throw err;
              rejected++;
            }
          }
        }
        app.commit();
        res.writeHead(rejected ? 400 : 204).end(rejected ? `${rejected} samples rejected` : undefined);
      } else if (url.pathname === '/stats') {
        const cpu = process.cpuUsage();
        res.end(JSON.stringify({ stats: db.stats(), memory: memory(), baseline, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
      } else if (req.method === 'POST' && url.pathname === '/flush') {
        db.flush();
        void db.runMaintenance().then(() => res.end(JSON.stringify(db.stats())));
      } else if (url.pathname === '/read') {
        // /read?name=..&mint=..&maxt=..&runs=..: p50/p99 of select() over the runs, ms.
        const ms: Matcher[] = [{ type: '=~', name: '__name__', value: url.searchParams.get('name') ?? '' }];
        const pod = url.searchParams.get('pod');
        if (pod) ms.push({ type: '=', name: 'pod', value: pod });
        const mint = Number(url.searchParams.get('mint'));
        const maxt = Number(url.searchParams.get('maxt'));
        const runs = Number(url.searchParams.get('runs') ?? 20);
        const times: number[] = [];
        let series = 0;
        let samples = 0;
        for (let i = 0; i < runs; i++) {
          // Each run's window is 1 ms earlier, so the select cache never answers a repeat
          // (a dashboard's refresh moves its window too): these are reads from the store.
          const t0 = performance.now();
          const got = db.querier(mint - i, maxt - i).select(ms);
          times.push(performance.now() - t0);
          series = got.length;
          samples = got.reduce((n, s) => n + s.t.length, 0);
        }
        res.end(JSON.stringify({ p50: quantile(times, 0.5), p99: quantile(times, 0.99), series, samples }));
      } else {
        res.writeHead(404).end();
      }
    } catch (err) {
      res.writeHead(500).end(String((err as Error).stack));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  db.close();
  process.exit(0);
});
