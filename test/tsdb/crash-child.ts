/**
 * The crash test's child: ingests batches in a loop into the store at argv[2], starting
 * at iteration argv[3], and prints `ack <i>` after each commit returns. The parent kills
 * it with SIGKILL at a random moment. Run with `node --import ./test/tsdb/ts-register.mjs`.
 */
import { openTsdb } from '../../collector/tsdb/index.js';
import { crashOptions, crashSample, CRASH_SERIES } from './crash-plan.js';

const dir = process.argv[2];
let i = Number(process.argv[3]);
const db = openTsdb(crashOptions(dir));
process.stdout.write(`opened ${i}\n`);

function step(): void {
  // A few commits per turn of the event loop, so background maintenance interleaves.
  for (let k = 0; k < 5; k++, i++) {
    const a = db.appender();
    for (let s = 0; s < CRASH_SERIES.length; s++) {
      const { t, v } = crashSample(i, s);
      a.append(CRASH_SERIES[s], t, v);
    }
    a.commit();
    process.stdout.write(`ack ${i}\n`);
  }
  setImmediate(step);
}
step();
