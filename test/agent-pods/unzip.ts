/**
 * Extracts a zip archive for fixtures: the `unzip` tool when installed, else a small
 * reader of the zip central directory with node:zlib (stored and deflated entries only,
 * which is all the fixture archives use).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';

function hasUnzip(): boolean {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Extracts `zipFile` into `dest`; `force` selects the implementation (for testing both). */
export function extractZip(zipFile: string, dest: string, force?: 'unzip' | 'zlib'): void {
  if (force === 'unzip' || (force === undefined && hasUnzip())) {
    execFileSync('unzip', ['-q', zipFile, '-d', dest]);
    return;
  }
  const buf = readFileSync(zipFile);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipFile}: no end-of-central-directory record (not a zip file?)`);
  const entries = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const root = resolve(dest);
  for (let n = 0; n < entries; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipFile}: bad central directory entry at ${p}`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    const target = resolve(root, name);
    if (!target.startsWith(root)) throw new Error(`${zipFile}: entry ${name} escapes the destination`);
    if (name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(dataStart, dataStart + compressed);
    let content: Buffer;
    if (method === 0) content = data;
    else if (method === 8) content = inflateRawSync(data);
    else throw new Error(`${zipFile}: entry ${name} uses compression method ${method}, not supported`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(join(target), content);
  }
}
