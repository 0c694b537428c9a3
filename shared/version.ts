import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function findVersion(): string {
  // dist/collector/version.js and collector/version.ts are both two levels below the root.
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'kubepulse' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}

/** The kubepulse version, from package.json. */
export const VERSION = findVersion();
