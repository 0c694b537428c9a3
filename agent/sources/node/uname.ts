/**
 * node_exporter's uname collector: `node_uname_info`.
 */
import { join } from 'node:path';
import os from 'node:os';
import type { NodeCollector } from './read.js';
import { emitOne, readOptional } from './read.js';

export interface UnameInfo {
  sysname: string;
  release: string;
  version: string;
  machine: string;
  nodename: string;
  domainname: string;
}

/** This kernel's uname(2), as node_uname_info labels. `domainname` comes from procfs. */
export async function readUname(proc: string, signal: AbortSignal): Promise<UnameInfo> {
  const domain = (await readOptional(join(proc, 'sys/kernel/domainname'), signal))?.trim();
  return {
    sysname: os.type(),
    release: os.release(),
    version: os.version(),
    machine: os.machine(),
    nodename: os.hostname(),
    domainname: domain || '(none)',
  };
}

export const unameCollector: NodeCollector = {
  name: 'uname',
  async collect(env, sink) {
    const u = await readUname(env.paths.proc, env.signal);
    emitOne(sink, 'node_uname_info', 'gauge', 'Labeled system information as provided by the uname system call.', { ...u }, 1);
  },
};
