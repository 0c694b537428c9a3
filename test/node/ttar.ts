/**
 * A reader for ttar, the plain-text archive format node_exporter keeps its sysfs and
 * udev fixtures in: `Directory:`/`Path:` headers, `Lines: N` followed by N content lines
 * (the last ending in `EOF` when the file has no trailing newline), `SymlinkTo:`, `Mode:`,
 * entries separated by `# ttar - - -` lines, and `NULLBYTE` for NUL characters.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/** Unpacks `archive` under `dest` (created if needed). Returns the number of entries. */
export function extractTtar(archive: string, dest: string): number {
  const lines = readFileSync(archive, 'utf8').split('\n');
  const root = resolve(dest);
  const target = (p: string) => {
    const abs = resolve(root, p);
    if (abs !== root && !abs.startsWith(root + sep)) throw new Error(`ttar entry escapes the destination: ${p}`);
    return abs;
  };
  let entries = 0;
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`${archive}:${i + 1}: ${msg}`);
  };
  while (i < lines.length) {
    const line = lines[i];
    if (line === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    if (line.startsWith('Directory: ')) {
      mkdirSync(target(line.slice(11)), { recursive: true });
      i++;
      if (lines[i]?.startsWith('Mode: ')) i++;
      entries++;
      continue;
    }
    if (!line.startsWith('Path: ')) fail(`expected Path: or Directory:, got ${JSON.stringify(line)}`);
    const path = target(line.slice(6));
    mkdirSync(dirname(path), { recursive: true });
    i++;
    const next = lines[i] ?? '';
    if (next.startsWith('SymlinkTo: ')) {
      symlinkSync(next.slice(11), path);
      i++;
      entries++;
      continue;
    }
    const m = /^Lines: (\d+)$/.exec(next);
    if (!m) fail(`expected Lines: after Path:, got ${JSON.stringify(next)}`);
    const n = Number(m![1]);
    i++;
    const content = lines.slice(i, i + n);
    if (content.length !== n) fail(`file ${path} is cut short`);
    i += n;
    let text = content.join('\n');
    if (n > 0) text = text.endsWith('EOF') ? text.slice(0, -3) : `${text}\n`;
    writeFileSync(path, text.replaceAll('NULLBYTE', '\0'));
    if (lines[i]?.startsWith('Mode: ')) {
      // Keep files writable by us so the temp dir can be removed.
      chmodSync(path, Number.parseInt(lines[i].slice(6), 8) | 0o600);
      i++;
    }
    entries++;
  }
  return entries;
}

/** Convenience: unpack `sys.ttar` and `udev.ttar` of a node_exporter fixture folder into `dest`. */
export function unpackNodeExporterFixtures(fixtureDir: string, dest: string): void {
  extractTtar(join(fixtureDir, 'sys.ttar'), dest);
  extractTtar(join(fixtureDir, 'udev.ttar'), dest);
}
