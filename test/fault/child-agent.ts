/**
 * An agent process for the kill tests: the real Shipper with its disk spool at
 * $KP_SPOOL pushing to $KP_URL, fed synthetic ticks $KP_FROM..$KP_TO-1 (timestamps
 * $KP_T0 + i·10 s, $KP_SERIES series) one every $KP_EVERY_MS. Prints `enqueued <i>`
 * after each tick and keeps delivering until killed.
 */
import { Shipper } from '../../agent/shipper/shipper.js';
import { syntheticBatch } from './helpers.js';

const env = (k: string) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`child-agent: ${k} is not set`);
  return v;
};
const shipper = new Shipper({
  url: env('KP_URL'),
  maxSeriesPerRequest: 100,
  timeoutMs: 2000,
  minBackoffMs: 10,
  maxBackoffMs: 100,
  spoolDir: env('KP_SPOOL'),
  spoolSegmentBytes: 32 * 1024,
  backfillSamplesPerSecond: 1_000_000,
});
shipper.start();
const t0 = Number(env('KP_T0'));
const series = Number(env('KP_SERIES'));
for (let i = Number(env('KP_FROM')); i < Number(env('KP_TO')); i++) {
  shipper.enqueue(syntheticBatch(t0 + i * 10_000, i, series));
  process.stdout.write(`enqueued ${i}\n`);
  await new Promise((r) => setTimeout(r, Number(env('KP_EVERY_MS'))));
}
setInterval(() => process.stdout.write(`pending ${shipper.pending}\n`), 200);
