/**
 * The collector's SQLite time-series store; see docs/storage.md.
 */
export { openTsdb, Tsdb } from './tsdb.js';
export type { TsdbOptions, TsdbStats } from './tsdb.js';
