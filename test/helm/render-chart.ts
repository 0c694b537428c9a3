/**
 * Renders the kubepulse chart the way `helm template` does, with the Go renderer in
 * `test/helm/render/` (text/template + sprig, built once from Debian's Go packages).
 * Tests use `renderChart` for manifests, `renderNotes` for NOTES.txt and `mergedValues`
 * for the coalesced values helm validates against values.schema.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../helpers/paths.js';

export const CHART_DIR = join(REPO_ROOT, 'helm', 'kubepulse');
export const RENDER_DIR = join(REPO_ROOT, 'test', 'helm', 'render');
export const RENDERER = join(RENDER_DIR, 'kubepulse-render');

/** Release name and namespace of the deploy/ manifests and of most tests. */
export const RELEASE = { name: 'kubepulse', namespace: 'kubepulse' } as const;

/** API versions a cluster with the Prometheus Operator CRDs reports. */
export const OPERATOR_API_VERSIONS = [
  'monitoring.coreos.com/v1',
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
] as const;

export interface RenderOptions {
  /** Values files applied in order after values.yaml (absolute or chart-relative paths). */
  readonly valuesFiles?: readonly string[];
  /** `--set` arguments, e.g. `agent.enabled=false`. */
  readonly set?: readonly string[];
  /** Extra `.Capabilities.APIVersions`. */
  readonly apiVersions?: readonly string[];
  readonly name?: string;
  readonly namespace?: string;
  /** Fail on references to missing values, as `helm lint --strict` does. */
  readonly strict?: boolean;
}

/** One rendered YAML document and the template it came from. */
export interface RenderedDoc {
  /** `kubepulse/templates/...` */
  readonly source: string;
  /** The document's text as rendered (without the `# Source:` line). */
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly object: any;
}

/** Raised when the renderer exits non-zero; `stderr` carries helm's error text. */
export class RenderError extends Error {
  constructor(readonly stderr: string) {
    super(`chart render failed: ${stderr.trim()}`);
  }
}

function newestMtime(dir: string): number {
  return Math.max(...readdirSync(dir).filter((f) => f.endsWith('.go')).map((f) => statSync(join(dir, f)).mtimeMs));
}

/**
 * Builds the renderer unless an up-to-date binary exists. Safe to call from parallel
 * workers: each builds to its own file and renames it into place. Throws with a clear
 * message when Go or the Debian Go packages are missing: these tests never skip.
 */
export function ensureRenderer(): string {
  if (existsSync(RENDERER) && statSync(RENDERER).mtimeMs >= newestMtime(RENDER_DIR)) return RENDERER;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      'the chart tests need the Go toolchain to build test/helm/render: install golang-go and ' +
        'golang-github-masterminds-sprig-dev (apt-get install golang-go golang-github-masterminds-sprig-dev)',
    );
  }
  const tmpDir = join(REPO_ROOT, '.tmp');
  mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `kubepulse-render.${process.pid}.${Date.now()}`);
  const res = spawnSync('sh', [join(RENDER_DIR, 'build.sh'), tmp], { encoding: 'utf8', timeout: 180_000 });
  if (res.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(
      `building the chart renderer failed (needs golang-go, golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v2-dev in /usr/share/gocode):\n${res.stderr}${res.stdout}`,
    );
  }
  renameSync(tmp, RENDERER);
  return RENDERER;
}

function args(opts: RenderOptions): string[] {
  const a = ['--chart', CHART_DIR, '--name', opts.name ?? RELEASE.name, '--namespace', opts.namespace ?? RELEASE.namespace];
  for (const f of opts.valuesFiles ?? []) a.push('-f', f.startsWith('/') ? f : join(CHART_DIR, f));
  for (const s of opts.set ?? []) a.push('--set', s);
  for (const v of opts.apiVersions ?? []) a.push('--api-versions', v);
  if (opts.strict) a.push('--strict');
  return a;
}

function exec(a: string[]): string {
  const res = spawnSync(ensureRenderer(), a, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new RenderError(res.stderr || `exit status ${res.status}`);
  return res.stdout;
}

/** Splits `helm template` output into documents with their sources. */
export function parseRenderOutput(out: string): RenderedDoc[] {
  const docs: RenderedDoc[] = [];
  for (const chunk of out.split(/^---$/m)) {
    const m = /^\n?# Source: (\S+)\n([\s\S]*)$/.exec(chunk);
    if (!m) {
      if (chunk.trim() !== '') throw new Error(`render output chunk without a # Source: line: ${chunk.slice(0, 200)}`);
      continue;
    }
    const text = m[2].replace(/\n$/, '');
    const parsed = YAML.parseDocument(text, { version: '1.1' });
    if (parsed.errors.length) throw new Error(`${m[1]}: rendered YAML does not parse: ${parsed.errors.map((e) => e.message).join('; ')}`);
    const object = parsed.toJS();
    if (object === null || object === undefined) continue;
    docs.push({ source: m[1], text, object });
  }
  return docs;
}

/** Renders the manifests (hooks included, NOTES.txt excluded). */
export function renderChart(opts: RenderOptions = {}): RenderedDoc[] {
  return parseRenderOutput(exec(args(opts)));
}

/** Renders the manifests and returns helm's raw text output. */
export function renderChartText(opts: RenderOptions = {}): string {
  return exec(args(opts));
}

/** Renders NOTES.txt. */
export function renderNotes(opts: RenderOptions = {}): string {
  return exec([...args(opts), '--notes']);
}

/** The values after helm's coalescing (values.yaml, -f files, --set). */
export function mergedValues(opts: RenderOptions = {}): Record<string, unknown> {
  return JSON.parse(exec([...args(opts), '--dump-values'])) as Record<string, unknown>;
}

/** The chart's ci/*-values.yaml files, sorted. */
export function ciValuesFiles(): string[] {
  return readdirSync(join(CHART_DIR, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort();
}

/** API versions to render a ci file with: the operator file expects the CRDs to be detected. */
export function ciApiVersions(file: string): readonly string[] {
  return file.startsWith('04-operator') ? OPERATOR_API_VERSIONS : [];
}

/** Finds one rendered object by kind and name; throws when absent. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function findDoc(docs: readonly RenderedDoc[], kind: string, name: string): any {
  const d = docs.find((x) => x.object.kind === kind && x.object.metadata?.name === name);
  if (!d) throw new Error(`no ${kind} ${name} in the render (have: ${docs.map((x) => `${x.object.kind}/${x.object.metadata?.name}`).join(', ')})`);
  return d.object;
}

/** Runs `git ls-files`-free check that a command exists on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
