/**
 * A collector process for the kill tests and the load bench: the real write path
 * (fastify + writePlugin + a SQLite store) on 127.0.0.1:$KP_PORT, data in $KP_DATA_DIR.
 * The store is the collector's TSDB.
 * Prints `listening <port>` when ready. Compiled by the test, never shipped.
 */
import type { Storage } from '../../collector/storage/index.js';
import { openTsdb } from '../../collector/tsdb/index.js';
import { buildServer } from '../../collector/web/server.js';
import { writePlugin } from '../../collector/ingest/write-plugin.js';

const dataDir = process.env.KP_DATA_DIR ?? './data';
const store: Storage = openTsdb({ dataDir });
const app = await buildServer({ plugins: [{ plugin: writePlugin, opts: { appendable: store, maxBodyBytes: 32 << 20, maxDecompressedBytes: 128 << 20, maxNewSeriesPerMinute: Number(process.env.KP_MAX_NEW_SERIES_PER_MINUTE ?? 20_000) } }] });
await app.listen({ host: '127.0.0.1', port: Number(process.env.KP_PORT ?? 0) });
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => {
    store.close();
    process.exit(0);
  });
});
