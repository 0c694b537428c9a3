/**
 * Paths tests share: the repository root and the read-only real-world fixtures that sit
 * beside the repository (`../shared/fixtures`).
 */
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** `../shared/fixtures` of the checkout; KUBEPULSE_FIXTURES overrides it. */
export const FIXTURES = process.env.KUBEPULSE_FIXTURES ?? resolve(REPO_ROOT, '..', 'shared', 'fixtures');

/** Absolute path of a fixture file; throws a clear error when the fixtures are missing. */
export function fixture(...parts: string[]): string {
  const p = resolve(FIXTURES, ...parts);
  if (!existsSync(p)) throw new Error(`fixture not found: ${p} (the fixtures live in ../shared/fixtures beside the repository)`);
  return p;
}
