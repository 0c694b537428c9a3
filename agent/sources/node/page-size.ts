/**
 * The kernel's page size, which sockstat's `mem` counts are in. Node has no API for it;
 * the ELF auxiliary vector of our own process (`/proc/self/auxv`, entry AT_PAGESZ) has it.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

const AT_NULL = 0n;
const AT_PAGESZ = 6n;

/** AT_PAGESZ from an auxv image of 64-bit words; `undefined` when absent or not 64-bit. */
export function pageSizeFromAuxv(buf: Buffer, littleEndian = os.endianness() === 'LE'): number | undefined {
  for (let off = 0; off + 16 <= buf.length; off += 16) {
    const type = littleEndian ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off);
    if (type === AT_NULL) break;
    if (type === AT_PAGESZ) return Number(littleEndian ? buf.readBigUInt64LE(off + 8) : buf.readBigUInt64BE(off + 8));
  }
  return undefined;
}

let cached: number | undefined;

/** This machine's page size in bytes; 4096 when it cannot be read (32-bit, no procfs). */
export function systemPageSize(): number {
  if (cached !== undefined) return cached;
  let size: number | undefined;
  try {
    if (process.arch === 'x64' || process.arch === 'arm64' || process.arch === 'ppc64' || process.arch === 's390x' || process.arch === 'riscv64' || process.arch === 'loong64') {
      size = pageSizeFromAuxv(readFileSync('/proc/self/auxv'));
    }
  } catch {
    size = undefined;
  }
  cached = size !== undefined && size > 0 && (size & (size - 1)) === 0 ? size : 4096;
  return cached;
}
