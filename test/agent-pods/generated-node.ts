/**
 * A whole generated node for benchmarks: N pods / M containers as a cgroup tree, a kubelet
 * summary and a kubelet `/metrics/cadvisor` text, each built from the real 1.35 capture's
 * kube-proxy pod as the template (same fields, same interfaces, same cAdvisor families),
 * with the generated names, UIDs and container IDs substituted.
 */
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { fixture } from '../helpers/paths.js';
import { generateKubepodsTree, type GeneratedTree, type TreeSpec } from './cgroup-tree.js';

const TEMPLATE_POD = 'kube-proxy-8k9zt';
const TEMPLATE_UID = '90565722-42c8-4f10-a59b-c8fc6571e86d';
const TEMPLATE_CONTAINER = 'kube-proxy';

export interface GeneratedNode {
  tree: GeneratedTree;
  pods: V1Pod[];
  summary: string;
  cadvisorText: string;
  containers: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- fixture JSON cloned as a template */

export function generateNode(root: string, spec: TreeSpec): GeneratedNode {
  const tree = generateKubepodsTree(root, spec);
  const raw = JSON.parse(readFileSync(fixture('kubelet-summary/nri-kubernetes/k8s-1.35/stats-summary.json'), 'utf8'));
  const tplPod = raw.pods.find((p: any) => p.podRef.name === TEMPLATE_POD);
  const tplContainer = tplPod.containers[0];
  const pods: any[] = [];
  let i = 0;
  for (const p of tree.pods) {
    const pod = structuredClone(tplPod);
    pod.podRef = { name: p.metadata!.name, namespace: p.metadata!.namespace, uid: p.metadata!.uid };
    pod.cpu.usageCoreNanoSeconds += ++i * 1_000_003;
    pod.containers = p.spec!.containers.map((c, j) => {
      const cc = structuredClone(tplContainer);
      cc.name = c.name;
      cc.cpu.usageCoreNanoSeconds += i * 1000 + j;
      return cc;
    });
    pods.push(pod);
  }
  const summary = JSON.stringify({ node: raw.node, pods });
  return { tree, pods: tree.pods, summary, cadvisorText: cadvisorText(tree), containers: tree.cgroups.filter((c) => c.labels.container !== '').length };
}

/** The kubelet's /metrics/cadvisor for the generated node, from the capture's rows (timestamps dropped). */
function cadvisorText(tree: GeneratedTree): string {
  const text = readFileSync(fixture('k8s-prometheus-text/nri-kubernetes/k8s-1.35/kubelet-metrics-cadvisor.txt'), 'utf8');
  const meta = new Map<string, string[]>();
  const families = new Map<string, string[]>();
  const podRows: string[] = [];
  const pauseRows: string[] = [];
  const containerRows: string[] = [];
  const add = (line: string) => {
    const name = line.slice(0, line.search(/[{ ]/));
    let f = families.get(name);
    if (!f) families.set(name, (f = []));
    // Drop cAdvisor's explicit timestamps: a repeated scrape must append fresh samples, not duplicates.
    f.push(line.replace(/^((?:[^{ ]+|[^ ]+\{.*\}) \S+) \d{10,}$/, '$1'));
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      const name = line.split(' ')[2];
      let m = meta.get(name);
      if (!m) meta.set(name, (m = []));
      m.push(line);
      continue;
    }
    if (!line) continue;
    if (line.includes('pod=""')) add(line);
    else if (line.includes(`pod="${TEMPLATE_POD}"`)) {
      if (line.includes(`container="${TEMPLATE_CONTAINER}"`)) containerRows.push(line);
      else if (line.includes('image="registry.k8s.io/pause')) pauseRows.push(line);
      else podRows.push(line);
    }
  }
  const podOf = new Map(tree.pods.map((p) => [p.metadata!.name!, p]));
  for (const cg of tree.cgroups) {
    const p = podOf.get(cg.labels.pod)!;
    const sub = (l: string) =>
      l
        .replaceAll(`pod="${TEMPLATE_POD}"`, `pod="${cg.labels.pod}"`)
        .replaceAll('namespace="kube-system"', `namespace="${cg.labels.namespace}"`)
        .replaceAll(TEMPLATE_UID, p.metadata!.uid!);
    if (cg.labels.container === '') {
      for (const l of podRows) add(sub(l));
      for (const l of pauseRows) add(sub(l).replace(/[0-9a-f]{64}/g, cg.rel.slice(-40).padStart(64, '0')));
    } else {
      const id = /[0-9a-f]{64}/.exec(cg.rel)![0];
      for (const l of containerRows) {
        add(sub(l).replaceAll(`container="${TEMPLATE_CONTAINER}"`, `container="${cg.labels.container}"`).replace(/image="[^"]*"/, `image="${cg.labels.image}"`).replace(/[0-9a-f]{64}/g, id));
      }
    }
  }
  const out: string[] = [];
  for (const [name, lines] of families) out.push(...(meta.get(name) ?? []), ...lines);
  return out.join('\n') + '\n';
}
