/**
 * Loads the real Kubernetes objects of `../shared/fixtures/k8s-api-objects/` (PodList,
 * NodeList, single objects; YAML or JSON) as plain objects ready for
 * `FakeApiServer.add`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { fixture } from '../../helpers/paths.js';
import type { KubeObject } from './selectors.js';

/**
 * Objects of a fixture file. A `*List` yields its items, each given the `apiVersion`
 * and `kind` of the list (kubelet `/pods` lists carry neither, so `defaultKind` fills
 * in; default `Pod`). A single object yields itself. Paths are relative to the
 * fixtures root, e.g. `k8s-api-objects/nri-kubernetes/k8s-1.31/pods.yaml`, or absolute.
 */
export function loadFixtureObjects(path: string, defaultKind = 'Pod'): KubeObject[] {
  const file = path.startsWith('/') ? path : fixture(path);
  const text = readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new Error(`parsing fixture ${file}`, { cause });
  }
  if (doc === null || typeof doc !== 'object') throw new Error(`fixture ${file} is not an object`);
  const d = doc as KubeObject & { items?: KubeObject[] };
  if (!Array.isArray(d.items)) return [d];
  const listKind = typeof d.kind === 'string' && d.kind.endsWith('List') ? d.kind.slice(0, -4) : undefined;
  const apiVersion = d.apiVersion ?? 'v1';
  return d.items.map((it) => {
    const kind = it.kind ?? (listKind && listKind !== '' ? listKind : defaultKind);
    return { ...it, apiVersion: it.apiVersion ?? apiVersion, kind };
  });
}

/** Pods and nodes of one nri-kubernetes capture (`version` like `1.31`). */
export function loadNriCluster(version: string): { pods: KubeObject[]; nodes: KubeObject[] } {
  const dir = `k8s-api-objects/nri-kubernetes/k8s-${version}`;
  return {
    pods: loadFixtureObjects(`${dir}/pods.yaml`, 'Pod'),
    nodes: loadFixtureObjects(`${dir}/nodes.yaml`, 'Node'),
  };
}
