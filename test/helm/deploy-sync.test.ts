/**
 * deploy/ holds the chart rendered with its defaults (release `kubepulse`, namespace
 * `kubepulse`) for `kubectl apply -k deploy/`. This test keeps it equal to the render;
 * `KUBEPULSE_UPDATE_DEPLOY=1 npx vitest run test/helm/deploy-sync.test.ts` rewrites it.
 * It also checks the Dockerfile against what the chart runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { RELEASE, ensureRenderer, findDoc, parseRenderOutput, renderChartText, type RenderedDoc } from './render-chart.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const DEPLOY = join(REPO_ROOT, 'deploy');
const MANIFESTS = join(DEPLOY, 'manifests');
const HEADER = '# Generated from helm/kubepulse with the default values (release kubepulse, namespace kubepulse).\n# Do not edit: change the chart, then run KUBEPULSE_UPDATE_DEPLOY=1 npx vitest run test/helm/deploy-sync.test.ts\n';

/** deploy/manifests file name of a template: kubepulse/templates/agent/daemonset.yaml -> agent-daemonset.yaml */
const fileFor = (source: string) => source.replace(/^kubepulse\/templates\//, '').replace(/\//g, '-');

let expected: Map<string, string>;
let docs: RenderedDoc[];

beforeAll(() => {
  ensureRenderer();
  docs = parseRenderOutput(renderChartText({ name: RELEASE.name, namespace: RELEASE.namespace }));
  expected = new Map();
  // helm hooks (the test pod) are not part of a plain install.
  for (const d of docs.filter((x) => !x.object.metadata?.annotations?.['helm.sh/hook'])) {
    const f = fileFor(d.source);
    const prev = expected.get(f);
    expected.set(f, prev === undefined ? `${HEADER}${d.text}\n` : `${prev}---\n${d.text}\n`);
  }
  if (process.env.KUBEPULSE_UPDATE_DEPLOY === '1') {
    rmSync(MANIFESTS, { recursive: true, force: true });
    mkdirSync(MANIFESTS, { recursive: true });
    for (const [f, text] of expected) writeFileSync(join(MANIFESTS, f), text);
    const kustomization = YAML.parse(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8'));
    kustomization.resources = ['namespace.yaml', ...[...expected.keys()].sort().map((f) => `manifests/${f}`)];
    writeFileSync(join(DEPLOY, 'kustomization.yaml'), `# kubectl apply -k deploy/  (resources kept in sync with the chart by test/helm/deploy-sync.test.ts)\n${YAML.stringify(kustomization)}`);
  }
});

describe('deploy/ manifests', () => {
  it('equal the chart rendered with its defaults, file by file', () => {
    expect(existsSync(MANIFESTS), 'deploy/manifests is missing: run with KUBEPULSE_UPDATE_DEPLOY=1').toBe(true);
    expect(readdirSync(MANIFESTS).sort()).toEqual([...expected.keys()].sort());
    for (const [f, text] of expected) expect(readFileSync(join(MANIFESTS, f), 'utf8'), `deploy/manifests/${f} is stale`).toBe(text);
  });

  it('the kustomization lists the namespace and every manifest', () => {
    const k = YAML.parse(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8'));
    expect(k.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(k.kind).toBe('Kustomization');
    expect(k.namespace).toBe(RELEASE.namespace);
    expect(k.resources).toEqual(['namespace.yaml', ...[...expected.keys()].sort().map((f) => `manifests/${f}`)]);
    const ns = YAML.parse(readFileSync(join(DEPLOY, 'namespace.yaml'), 'utf8'));
    expect(ns).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: RELEASE.namespace } });
    // The agent's read-only hostPath mounts are outside the baseline Pod Security level.
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  it('kubectl kustomize builds exactly the rendered objects plus the namespace', () => {
    const res = spawnSync('kubectl', ['kustomize', DEPLOY], { encoding: 'utf8' });
    expect(res.error, 'kubectl (with its built-in kustomize) must be on PATH').toBeUndefined();
    expect(res.status, res.stderr).toBe(0);
    const built = YAML.parseAllDocuments(res.stdout).map((d) => d.toJS());
    const id = (o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const want = docs.filter((d) => !d.object.metadata?.annotations?.['helm.sh/hook']).map((d) => d.object);
    expect(built.map(id).sort()).toEqual([...want.map(id), `Namespace//${RELEASE.namespace}`].sort());
    for (const o of want) expect(built.find((b) => id(b) === id(o)), id(o)).toEqual(o);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('builds on node:22-bookworm-slim with the toolchain better-sqlite3 needs', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
    expect(dockerfile).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toContain('npm run build');
  });

  it('runs as the user the chart expects, with the entry points the chart calls', () => {
    expect(runtime).toMatch(/^USER 65534:65534$/m);
    const ds = findDoc(docs, 'DaemonSet', 'kubepulse-agent').spec.template.spec.containers[0];
    const sts = findDoc(docs, 'StatefulSet', 'kubepulse-collector').spec.template.spec.containers[0];
    expect(runtime).toMatch(/^WORKDIR \/app$/m);
    // dist/ is copied to /app/dist: the chart's commands must be below it.
    expect(runtime).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m);
    expect(ds.command).toEqual(['node', '--max-semi-space-size=1', '/app/dist/agent/main.js']);
    expect(sts.command).toEqual(['node', '/app/dist/collector/main.js']);
    // shared/version.ts reads ../../package.json from dist/shared/.
    expect(runtime).toMatch(/^COPY (--from=build \/src\/)?package\.json /m);
    const exposed = [...runtime.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => m[1].split(/\s+/)).map(Number).sort();
    expect(exposed).toEqual([ds.ports[0].containerPort, sts.ports[0].containerPort].sort());
  });

  it('the build emits the entry points the chart runs', () => {
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    const base = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.json'), 'utf8'));
    const opts = { ...base.compilerOptions, ...build.compilerOptions };
    expect(opts.outDir).toBe('dist');
    expect(opts.rootDir).toBe('.');
    for (const program of ['agent', 'collector']) {
      expect(existsSync(join(REPO_ROOT, program, 'main.ts')), `${program}/main.ts compiles to dist/${program}/main.js`).toBe(true);
    }
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ 'kubepulse-agent': 'dist/agent/main.js', 'kubepulse-collector': 'dist/collector/main.js' });
  });

  it('copies only sources that exist and that the build reads', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) expect(existsSync(join(REPO_ROOT, src)), `COPY source ${src}`).toBe(true);
    }
    const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    for (const inc of tsconfig.include as string[]) {
      const top = inc.split('/')[0];
      expect(dockerfile, `tsconfig.build.json includes ${inc}`).toMatch(new RegExp(`^COPY [^\\n]*\\b${top}\\b`, 'm'));
    }
  });
});
