/**
 * node_exporter's filefd collector: `/proc/sys/fs/file-nr`.
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { emitOne, readText } from './read.js';

/** `/proc/sys/fs/file-nr`: allocated, unused (always 0 since 2.6), maximum. */
export function parseFileNr(text: string): { allocated: number; maximum: number } {
  const f = text.trim().split(/\s+/).map(Number);
  if (f.length < 3 || f.some((x) => !Number.isFinite(x))) throw new Error(`unexpected file-nr content: ${JSON.stringify(text.slice(0, 80))}`);
  return { allocated: f[0], maximum: f[2] };
}

export const filefdCollector: NodeCollector = {
  name: 'filefd',
  async collect(env, sink) {
    const v = parseFileNr(await readText(join(env.paths.proc, 'sys/fs/file-nr'), env.signal));
    emitOne(sink, 'node_filefd_allocated', 'gauge', 'File descriptor statistics: allocated.', {}, v.allocated);
    emitOne(sink, 'node_filefd_maximum', 'gauge', 'File descriptor statistics: maximum.', {}, v.maximum);
  },
};
