/**
 * The Helm chart, rendered as `helm template` would (test/helm/render), checked against the
 * Kubernetes schemas and for the properties that matter: hardened pods, read-only host
 * mounts, least-privilege RBAC, matching labels and selectors, agent flags that point at
 * what is mounted, and collector config and rules that real tools accept.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OPERATOR_API_VERSIONS,
  RELEASE,
  RenderError,
  ciApiVersions,
  ciValuesFiles,
  ensureRenderer,
  findDoc,
  mergedValues,
  renderChart,
  renderNotes,
  type RenderedDoc,
} from './render-chart.js';
import { CLUSTER_SCOPED, validateManifest } from './k8s-validate.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

interface Case {
  name: string;
  valuesFiles: string[];
  apiVersions: readonly string[];
}

const CASES: Case[] = [
  { name: 'defaults', valuesFiles: [], apiVersions: [] },
  { name: 'defaults with the Prometheus Operator CRDs', valuesFiles: [], apiVersions: OPERATOR_API_VERSIONS },
  ...ciValuesFiles().map((f) => ({ name: `ci/${f}`, valuesFiles: [`ci/${f}`], apiVersions: ciApiVersions(f) })),
];

const renders = new Map<string, RenderedDoc[]>();
let tmp: string;

beforeAll(() => {
  ensureRenderer();
  // Strict, as `helm lint --strict`: a template reading a value that does not exist fails.
  for (const c of CASES) renders.set(c.name, renderChart({ valuesFiles: c.valuesFiles, apiVersions: c.apiVersions, strict: true }));
  tmp = mkdtempSync(join(tmpdir(), 'kubepulse-chart-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const mergedValuesOf = (c: Case): any => mergedValues({ valuesFiles: c.valuesFiles });
const docsOf = (name: string): RenderedDoc[] => {
  const d = renders.get(name);
  if (!d) throw new Error(`no render ${name}`);
  return d;
};
const objects = (name: string): any[] => docsOf(name).map((d) => d.object);
const full = `ci/02-full-values.yaml`;

/** Pod specs of the workloads and the test pod, with a label for messages. */
function podSpecs(objs: any[]): Array<{ what: string; spec: any; labels: Record<string, string> }> {
  const out: Array<{ what: string; spec: any; labels: Record<string, string> }> = [];
  for (const o of objs) {
    if (o.kind === 'DaemonSet' || o.kind === 'StatefulSet') out.push({ what: `${o.kind} ${o.metadata.name}`, spec: o.spec.template.spec, labels: o.spec.template.metadata.labels });
    if (o.kind === 'Pod') out.push({ what: `Pod ${o.metadata.name}`, spec: o.spec, labels: o.metadata.labels });
  }
  return out;
}

/** What a selector's matchLabels selects: every selector label equal in the target. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function args(container: any): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of container.args as string[]) {
    const eq = a.indexOf('=');
    m.set(eq < 0 ? a.slice(2) : a.slice(2, eq), eq < 0 ? 'true' : a.slice(eq + 1));
  }
  return m;
}

/** Kubelet's $(VAR) expansion of args from the container's env. */
function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);
}

describe.each(CASES)('render: $name', (c) => {
  it('validates every manifest against the Kubernetes API schemas', async () => {
    const docs = docsOf(c.name);
    expect(docs.length).toBeGreaterThan(3);
    for (const d of docs) await validateManifest(d.object);
  });

  it('names, namespaces and common labels', () => {
    const seen = new Set<string>();
    for (const o of objects(c.name)) {
      const id = `${o.kind}/${o.metadata.name}`;
      expect(seen.has(id), `duplicate ${id}`).toBe(false);
      seen.add(id);
      expect(o.metadata.name.length, id).toBeLessThanOrEqual(63);
      expect(o.metadata.name, id).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      if (CLUSTER_SCOPED.has(o.kind)) expect(o.metadata.namespace, id).toBeUndefined();
      else expect(o.metadata.namespace, id).toBe(RELEASE.namespace);
      expect(o.metadata.labels, id).toMatchObject({
        'app.kubernetes.io/instance': RELEASE.name,
        'app.kubernetes.io/managed-by': 'Helm',
        'helm.sh/chart': 'kubepulse-0.1.0',
      });
      expect(['agent', 'collector', 'test'], id).toContain(o.metadata.labels['app.kubernetes.io/component']);
    }
  });

  it('hardens every pod and container', () => {
    const pods = podSpecs(objects(c.name));
    expect(pods.length).toBeGreaterThan(0);
    for (const { what, spec } of pods) {
      const psc = spec.securityContext ?? {};
      expect(psc.seccompProfile, what).toEqual({ type: 'RuntimeDefault' });
      for (const ctr of [...(spec.initContainers ?? []), ...spec.containers]) {
        const sc = { ...psc, ...ctr.securityContext };
        const where = `${what} container ${ctr.name}`;
        expect(sc.runAsNonRoot, where).toBe(true);
        expect(sc.runAsUser, where).toBe(65534);
        expect(sc.readOnlyRootFilesystem, where).toBe(true);
        expect(sc.allowPrivilegeEscalation, where).toBe(false);
        expect(sc.privileged ?? false, where).toBe(false);
        expect(sc.capabilities, where).toEqual({ drop: ['ALL'] });
        expect(sc.seccompProfile, where).toEqual({ type: 'RuntimeDefault' });
        expect(ctr.resources?.limits?.memory, `${where} memory limit`).toBeDefined();
        expect(ctr.resources?.requests, `${where} requests`).toBeDefined();
      }
      expect(spec.hostIPC ?? false, what).toBe(false);
    }
  });

  it('every pod but the agent meets the Pod Security "restricted" level', () => {
    // https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted):
    // volume types, host namespaces, host ports, privilege, capabilities, seccomp, non-root.
    const allowedVolumes = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
    for (const { what, spec } of podSpecs(objects(c.name)).filter((p) => !p.what.startsWith('DaemonSet'))) {
      expect(spec.hostNetwork ?? false, what).toBe(false);
      expect(spec.hostPID ?? false, what).toBe(false);
      for (const v of spec.volumes ?? []) {
        const type = Object.keys(v).find((k) => k !== 'name')!;
        expect(allowedVolumes.has(type), `${what} volume ${v.name} (${type})`).toBe(true);
      }
      for (const ctr of spec.containers) for (const port of ctr.ports ?? []) expect(port.hostPort, `${what} hostPort`).toBeUndefined();
    }
  });

  it('mounts host paths read-only, except a hostPath spool', () => {
    for (const { what, spec } of podSpecs(objects(c.name))) {
      const hostVols = new Map<string, string>();
      for (const v of spec.volumes ?? []) if (v.hostPath) hostVols.set(v.name, v.hostPath.path);
      for (const ctr of spec.containers) {
        for (const m of ctr.volumeMounts ?? []) {
          if (!hostVols.has(m.name)) continue;
          if (m.mountPath === '/var/lib/kubepulse/spool') continue;
          expect(m.readOnly, `${what}: hostPath ${hostVols.get(m.name)} at ${m.mountPath}`).toBe(true);
        }
      }
    }
  });

  it('selectors match the pod labels they are meant for, and nothing else', () => {
    const objs = objects(c.name);
    const pods = podSpecs(objs);
    for (const o of objs.filter((x) => x.kind === 'DaemonSet' || x.kind === 'StatefulSet')) {
      const sel = o.spec.selector.matchLabels;
      expect(selects(sel, o.spec.template.metadata.labels), `${o.kind} selector`).toBe(true);
      // No workload's selector catches another component's pods.
      for (const p of pods) if (p.spec !== o.spec.template.spec) expect(selects(sel, p.labels), `${o.kind} ${o.metadata.name} selects ${p.what}`).toBe(false);
    }
    const collectorPod = pods.find((p) => p.what.startsWith('StatefulSet'));
    expect(collectorPod).toBeDefined();
    const containerPorts = new Set(collectorPod!.spec.containers[0].ports.map((p: any) => p.name));
    for (const svc of objs.filter((x) => x.kind === 'Service')) {
      expect(selects(svc.spec.selector, collectorPod!.labels), `Service ${svc.metadata.name}`).toBe(true);
      for (const p of pods) if (p !== collectorPod) expect(selects(svc.spec.selector, p.labels), `Service ${svc.metadata.name} selects ${p.what}`).toBe(false);
      for (const port of svc.spec.ports) expect(containerPorts.has(port.targetPort), `Service ${svc.metadata.name} targetPort ${port.targetPort}`).toBe(true);
    }
    const sts = objs.find((x) => x.kind === 'StatefulSet');
    const headless = findDoc(docsOf(c.name), 'Service', sts.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    for (const pdb of objs.filter((x) => x.kind === 'PodDisruptionBudget')) expect(selects(pdb.spec.selector.matchLabels, collectorPod!.labels)).toBe(true);
    for (const sm of objs.filter((x) => x.kind === 'ServiceMonitor')) {
      const matched = objs.filter((x) => x.kind === 'Service' && selects(sm.spec.selector.matchLabels, x.metadata.labels));
      // Both the Service and the headless Service carry the labels; Prometheus would scrape the pod twice.
      expect(matched.map((s: any) => s.metadata.name), 'ServiceMonitor must select exactly one Service').toHaveLength(1);
      expect(matched[0].spec.ports.map((p: any) => p.name)).toContain(sm.spec.endpoints[0].port);
      expect(sm.spec.endpoints[0].honorLabels).toBe(true);
    }
    for (const ing of objs.filter((x) => x.kind === 'Ingress')) {
      for (const rule of ing.spec.rules) {
        for (const p of rule.http.paths) {
          const svc = findDoc(docsOf(c.name), 'Service', p.backend.service.name);
          expect(svc.spec.ports.map((x: any) => x.name)).toContain(p.backend.service.port.name);
        }
      }
    }
    for (const np of objs.filter((x) => x.kind === 'NetworkPolicy')) {
      expect(selects(np.spec.podSelector.matchLabels, collectorPod!.labels)).toBe(true);
      const allowedPods = np.spec.ingress.flatMap((r: any) => r.from ?? []).filter((f: any) => f.podSelector && !f.namespaceSelector);
      for (const p of pods) {
        const admitted = allowedPods.some((f: any) => selects(f.podSelector.matchLabels, p.labels));
        expect(admitted, `NetworkPolicy admits ${p.what}`).toBe(!p.what.startsWith('StatefulSet'));
      }
    }
  });
});

describe('agent DaemonSet', () => {
  const ds = () => findDoc(docsOf('defaults'), 'DaemonSet', 'kubepulse-agent');

  it('runs on every Linux node, control plane included, with a rolling update', () => {
    const o = ds();
    expect(o.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(o.spec.template.spec.tolerations).toContainEqual({ effect: 'NoSchedule', operator: 'Exists' });
    expect(o.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(o.spec.template.spec.hostNetwork).toBe(false);
    expect(o.spec.template.spec.hostPID).toBe(false);
  });

  it('mounts exactly /proc, /sys and the cgroup root from the host, read-only under /host', () => {
    const spec = ds().spec.template.spec;
    const hostPaths = Object.fromEntries(spec.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
    expect(hostPaths).toEqual({ proc: '/proc', sys: '/sys', cgroup: '/sys/fs/cgroup' });
    const mounts = Object.fromEntries(spec.containers[0].volumeMounts.filter((m: any) => m.name in hostPaths).map((m: any) => [hostPaths[m.name], [m.mountPath, m.readOnly]]));
    expect(mounts).toEqual({ '/proc': ['/host/proc', true], '/sys': ['/host/sys', true], '/sys/fs/cgroup': ['/host/sys/fs/cgroup', true] });
  });

  it('points its flags at what is mounted and served', () => {
    const spec = ds().spec.template.spec;
    const ctr = spec.containers[0];
    const a = args(ctr);
    // The host root holds proc/ and sys/: every host mount sits below it.
    expect(a.get('host-root')).toBe('/host');
    for (const m of ctr.volumeMounts.filter((x: any) => ['proc', 'sys', 'cgroup'].includes(x.name))) expect(m.mountPath.startsWith('/host/')).toBe(true);
    const spool = ctr.volumeMounts.find((m: any) => m.name === 'spool');
    expect(a.get('spool-dir')).toBe(spool.mountPath);
    expect(spool.readOnly ?? false).toBe(false);
    const token = a.get('bearer-token-file')!;
    expect(token).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
    expect(spec.automountServiceAccountToken).toBe(true);

    const env = Object.fromEntries(ctr.env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(env).toMatchObject({ NODE_NAME: 'spec.nodeName', NODE_IP: 'status.hostIP' });
    expect(a.get('node-name')).toBe('$(NODE_NAME)');
    expect(expandVars(a.get('kubelet-url')!, { NODE_IP: '10.0.0.7' })).toBe('https://10.0.0.7:10250');

    const svc = findDoc(docsOf('defaults'), 'Service', 'kubepulse-collector');
    const url = new URL(a.get('collector-url')!);
    expect(url.hostname).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc`);
    expect(Number(url.port)).toBe(svc.spec.ports.find((p: any) => p.name === 'http').port);

    const listenPort = Number(a.get('listen')!.split(':').pop());
    expect(ctr.ports).toEqual([{ name: 'http', containerPort: listenPort, protocol: 'TCP' }]);
    expect(ctr.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(ctr.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(a.get('interval')).toBe('10s');
    expect(ctr.command).toEqual(['node', '--max-semi-space-size=1', '/app/dist/agent/main.js']);
  });

  it.each([['defaults'], [full]])('%s: the agent config loader accepts the flags, as the kubelet expands them', async (name) => {
    const { loadAgentConfig, FLAGS } = await import('../../agent/config.js');
    const declared = new Set(FLAGS.map((f) => f.flag));
    const o = objects(name).find((x) => x.kind === 'DaemonSet');
    const ctr = o.spec.template.spec.containers[0];
    const env = { NODE_NAME: 'node-a', NODE_IP: '10.0.0.7' };
    const argv = (ctr.args as string[]).map((s) => expandVars(s, env));
    const flagName = (a: string) => a.slice(2).split('=')[0];
    for (const a of argv) expect(declared.has(flagName(a)), `agent flag ${a}`).toBe(true);
    const loaded = loadAgentConfig(argv, env);
    expect(loaded.config).toMatchObject({ host_root: '/host', node_name: 'node-a', interval: name === full ? '15s' : '10s', cluster: name === full ? 'prod-eu-1' : 'default' });
    expect(loaded.config.shipper.bearer_token_file).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('with the full values: hostPath spool, host root, host network, insecure kubelet TLS', () => {
    const o = findDoc(docsOf(full), 'DaemonSet', 'pulse-agent');
    const spec = o.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(spec.volumes.find((v: any) => v.name === 'spool').hostPath).toEqual({ path: '/var/lib/kubepulse/spool', type: 'DirectoryOrCreate' });
    // The host root sits at --host-root, where the filesystem source looks for host mounts.
    expect(spec.containers[0].volumeMounts.find((m: any) => m.name === 'root')).toEqual({ name: 'root', mountPath: '/host', mountPropagation: 'HostToContainer', readOnly: true });
    expect(spec.volumes.find((v: any) => v.name === 'root').hostPath).toEqual({ path: '/', type: 'Directory' });
    const a = args(spec.containers[0]);
    expect(a.get('kubelet-insecure-skip-verify')).toBe('true');
    expect(a.get('scrape-timeout')).toBe('8s');
    expect(a.get('cluster')).toBe('prod-eu-1');
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(spec.containers[0].image).toBe('registry.example.com/kubepulse/kubepulse@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
  });
});

describe('RBAC', () => {
  const rules = (docs: RenderedDoc[], name: string) => findDoc(docs, 'ClusterRole', name).rules;

  it('the agent may get nodes/stats and nodes/proxy and list/watch pods: nothing else', () => {
    expect(rules(docsOf('defaults'), 'kubepulse-agent')).toEqual([
      { apiGroups: [''], resources: ['nodes/stats', 'nodes/proxy'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    ]);
  });

  it('the collector may get/list/watch the kinds it watches and create Token/SubjectAccessReviews: nothing else', () => {
    const read = ['get', 'list', 'watch'];
    expect(rules(docsOf('defaults'), 'kubepulse-collector')).toEqual([
      { apiGroups: [''], resources: ['events', 'namespaces', 'nodes', 'persistentvolumeclaims', 'persistentvolumes', 'pods', 'services'], verbs: read },
      { apiGroups: ['apps'], resources: ['daemonsets', 'deployments', 'replicasets', 'statefulsets'], verbs: read },
      { apiGroups: ['batch'], resources: ['cronjobs', 'jobs'], verbs: read },
      { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: read },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: read },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
  });

  it('grants nothing beyond the two ClusterRoles, each bound to its own ServiceAccount', () => {
    const objs = objects('defaults');
    expect(objs.filter((o) => /Role/.test(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/kubepulse-agent',
      'ClusterRole/kubepulse-collector',
      'ClusterRoleBinding/kubepulse-agent',
      'ClusterRoleBinding/kubepulse-collector',
    ]);
    for (const who of ['agent', 'collector']) {
      const b = findDoc(docsOf('defaults'), 'ClusterRoleBinding', `kubepulse-${who}`);
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `kubepulse-${who}` });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: `kubepulse-${who}`, namespace: RELEASE.namespace }]);
      const sa = findDoc(docsOf('defaults'), 'ServiceAccount', `kubepulse-${who}`);
      expect(sa.automountServiceAccountToken).toBe(false);
      const pod = podSpecs(objs).find((p) => p.labels['app.kubernetes.io/component'] === who)!;
      expect(pod.spec.serviceAccountName).toBe(`kubepulse-${who}`);
    }
    // The reader exists only to authenticate queries: no Kubernetes permissions at all.
    expect(objs.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name).sort()).toEqual(['kubepulse-agent', 'kubepulse-collector', 'kubepulse-reader']);
    const testPod = findDoc(docsOf('defaults'), 'Pod', 'kubepulse-test-query');
    expect(testPod.spec.serviceAccountName).toBe('kubepulse-reader');
    expect(objs.filter((o) => o.kind === 'ClusterRoleBinding').flatMap((b) => b.subjects.map((x: any) => x.name))).not.toContain('kubepulse-reader');
  });

  it('rbac.create=false renders no RBAC and no ServiceAccounts when told to use existing ones', () => {
    const objs = objects('ci/03-minimal-values.yaml');
    expect(objs.filter((o) => /Role|ServiceAccount/.test(o.kind))).toEqual([]);
    expect(podSpecs(objs).map((p) => p.spec.serviceAccountName).sort()).toEqual(['existing-agent', 'existing-collector']);
  });
});

describe('collector StatefulSet, config and rules', () => {
  const sts = (docs = docsOf('defaults'), name = 'kubepulse-collector') => findDoc(docs, 'StatefulSet', name);

  /** The files the collector sees under /etc/kubepulse, from the projected ConfigMaps. */
  function mountedFiles(docs: RenderedDoc[], s: any): Map<string, string> {
    const spec = s.spec.template.spec;
    const mount = spec.containers[0].volumeMounts.find((m: any) => m.name === 'config');
    expect(mount.readOnly).toBe(true);
    const vol = spec.volumes.find((v: any) => v.name === 'config');
    const files = new Map<string, string>();
    for (const src of vol.projected.sources) {
      const cm = findDoc(docs, 'ConfigMap', src.configMap.name);
      for (const item of src.configMap.items) {
        expect(cm.data, `ConfigMap ${cm.metadata.name} key ${item.key}`).toHaveProperty([item.key]);
        files.set(`${mount.mountPath}/${item.path}`, cm.data[item.key]);
      }
    }
    return files;
  }

  it('one replica, a PersistentVolumeClaim on /data, probes on /-/healthy and /-/ready', () => {
    const s = sts();
    expect(s.spec.replicas).toBe(1);
    const ctr = s.spec.template.spec.containers[0];
    const a = args(ctr);
    expect(ctr.command).toEqual(['node', '/app/dist/collector/main.js']);
    expect(a.get('data-dir')).toBe('/data');
    expect(ctr.volumeMounts.find((m: any) => m.name === 'data').mountPath).toBe('/data');
    expect(s.spec.volumeClaimTemplates).toHaveLength(1);
    expect(s.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(s.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } });
    expect(s.spec.template.spec.securityContext.fsGroup).toBe(65534);
    expect(ctr.livenessProbe.httpGet).toEqual({ path: '/-/healthy', port: 'http' });
    expect(ctr.readinessProbe.httpGet).toEqual({ path: '/-/ready', port: 'http' });
    expect(Number(a.get('listen')!.split(':').pop())).toBe(ctr.ports[0].containerPort);
    expect(s.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    { set: ['collector.persistence.size=1.5Ti'], want: Math.floor(0.9 * 1.5 * 2 ** 40) },
    { set: ['collector.persistence.size=500M'], want: 450_000_000 },
    { set: ['collector.persistence.size=500M', 'collector.config.storage.max_bytes=1000'], want: 1000 },
    { set: ['collector.persistence.enabled=false'], want: 0 },
  ])('storage.max_bytes from $set', ({ set, want }) => {
    const cm = findDoc(renderChart({ set }), 'ConfigMap', 'kubepulse-collector');
    expect(YAML.parse(cm.data['collector.yaml']).storage.max_bytes).toBe(want);
  });

  it('persistence.storageClass "-" asks for no class; persistence off uses an emptyDir', () => {
    expect(sts(docsOf(full), 'pulse-collector').spec.volumeClaimTemplates[0].spec.storageClassName).toBe('');
    const minimal = sts(docsOf('ci/03-minimal-values.yaml'));
    expect(minimal.spec.volumeClaimTemplates).toBeUndefined();
    expect(minimal.spec.template.spec.volumes.find((v: any) => v.name === 'data')).toEqual({ name: 'data', emptyDir: {} });
  });

  it('the config file is mounted where --config points, with rule_files matching the mounted rules', () => {
    const docs = docsOf(full);
    const s = sts(docs, 'pulse-collector');
    const files = mountedFiles(docs, s);
    const configPath = args(s.spec.template.spec.containers[0]).get('config')!;
    expect(files.has(configPath)).toBe(true);
    const cfg = YAML.parse(files.get(configPath)!);
    const defaultsCfg = YAML.parse(findDoc(docsOf('defaults'), 'ConfigMap', 'kubepulse-collector').data['collector.yaml']);
    expect(defaultsCfg).toMatchObject({
      cluster: 'default',
      // max_bytes 0 becomes 90% of the volume: a full volume would stop ingestion.
      storage: { retention: '15d', rollup_retention: '90d', out_of_order_window: '1h', max_bytes: Math.floor(0.9 * 20 * 2 ** 30) },
      evaluation_interval: '1m',
      auth: {
        kubernetes: {
          enabled: true,
          push_identities: ['system:serviceaccount:kubepulse:kubepulse-agent'],
          read_identities: ['system:serviceaccount:kubepulse:kubepulse-reader'],
        },
        open_metrics: true,
      },
      default_rules: { enabled: true, rules: {} },
    });
    // No rule files but the built-in pack by default: no rule_files at all.
    expect(defaultsCfg.rule_files).toBeUndefined();
    expect(cfg.default_rules).toEqual({ enabled: true, rules: { CPUThrottlingHigh: false } });
    const ruleFiles = [...files.keys()].filter((f) => f !== configPath);
    expect(ruleFiles).toEqual(['/etc/kubepulse/rules/team-a.yaml', '/etc/kubepulse/rules/team-b.yaml']);
    const globs: string[] = cfg.rule_files;
    const toRe = (g: string) => new RegExp('^' + g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*') + '$');
    for (const f of ruleFiles) expect(globs.some((g) => toRe(g).test(f)), f).toBe(true);
  });

  /**
   * Checks the rendered collector.yaml with kubepulse's own parsers: the collector's config
   * loader for the whole file, and each section's own parser for what the schema cannot
   * check (secret files exist, rule files load, default rule switches name real rules).
   */
  it.each(CASES)('$name: kubepulse\'s own config and rule loaders accept the rendered config and flags', async (c) => {
    const { loadCollectorConfig, CONFIG_SCHEMA } = await import('../../collector/config.js');
    const { AUTH_CONFIG_SCHEMA, DEFAULT_AUTH_CONFIG, DEFAULT_TLS_CONFIG, checkAuthConfig } = await import('../../collector/auth/config.js');
    const { buildAlertingConfig } = await import('../../collector/notifier/config.js');
    const { loadRuleFiles } = await import('../../collector/rules/rule-file.js');
    const { lezerExprValidator } = await import('../../collector/rules/lezer-validator.js');
    const { defaultRuleGroups } = await import('../../collector/rules/default-rules/index.js');
    const { isValidLabelName, parseDuration } = await import('../../shared/index.js');

    const docs = docsOf(c.name);
    const s = docs.find((d) => d.object.kind === 'StatefulSet')!.object;
    const files = mountedFiles(docs, s);
    const dir = join(tmp, c.name.replace(/\W+/g, '-'));
    mkdirSync(join(dir, 'rules'), { recursive: true });
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    // The mounted projected volume, /etc/kubepulse, recreated under dir.
    for (const [p, text] of files) writeFileSync(join(dir, p.replace(/^\/etc\/kubepulse\//, '')), text);
    const ctr = s.spec.template.spec.containers[0];
    const configPath = args(ctr).get('config')!;
    const cfg = YAML.parse(files.get(configPath)!);

    // Every key must be one the loader declares; then each section also goes through the
    // parser that uses it (secret files, rule files, default rule switches).
    const known = new Set(Object.keys(CONFIG_SCHEMA.properties));
    expect(Object.keys(cfg).filter((k) => !known.has(k))).toEqual([]);
    const pending = cfg as Record<string, unknown>;
    writeFileSync(join(dir, 'loader.yaml'), YAML.stringify(cfg));
    const argv = (ctr.args as string[]).map((x) => (x.startsWith('--config=') ? `--config=${join(dir, 'loader.yaml')}` : x));
    const loaded = loadCollectorConfig(argv, {});
    expect(loaded.config.data_dir).toBe('/data');

    const ajv = new Ajv({ allErrors: true, strict: true });
    ajv.addFormat('duration', { type: 'string', validate: (x: string) => { try { parseDuration(x); return true; } catch { return false; } } });
    ajv.addFormat('url', { type: 'string', validate: (x: string) => URL.canParse(x) });
    for (const [key, value] of Object.entries<any>(pending)) {
      switch (key) {
        case 'auth': {
          const v = ajv.compile(AUTH_CONFIG_SCHEMA);
          expect(v(value), ajv.errorsText(v.errors)).toBe(true);
          const merged = { ...DEFAULT_AUTH_CONFIG, ...value, kubernetes: { ...DEFAULT_AUTH_CONFIG.kubernetes, ...value.kubernetes } };
          expect(checkAuthConfig(merged, DEFAULT_TLS_CONFIG)).toEqual([]);
          break;
        }
        case 'alerting': {
          // Secret files the receivers refer to exist in the mounted Secret.
          const text = JSON.stringify(value).replace(/\/etc\/kubepulse-secrets\/([\w.-]+)/g, (_m, f: string) => {
            writeFileSync(join(dir, 'secrets', f), 'secret-value');
            return join(dir, 'secrets', f);
          });
          expect(() => buildAlertingConfig(JSON.parse(text))).not.toThrow();
          break;
        }
        case 'default_rules': {
          const groups = defaultRuleGroups(value);
          expect(groups.length > 0, 'default rules on means some groups').toBe(value.enabled);
          for (const [name, on] of Object.entries(value.rules)) {
            expect(groups.some((g) => g.rules.some((r) => r.name === name)), `default rule ${name}`).toBe(on);
          }
          break;
        }
        case 'rule_files': {
          const patterns = (value as string[]).map((g) => g.replace(/^\/etc\/kubepulse\//, `${dir}/`));
          const groups = loadRuleFiles(patterns, lezerExprValidator);
          const expected = [...files.keys()].filter((p) => p.includes('/rules/'));
          expect(new Set(groups.map((g) => g.file.split('/').pop())).size).toBe(expected.length);
          break;
        }
        case 'evaluation_interval':
          expect(parseDuration(value)).toBeGreaterThan(0);
          break;
        case 'external_labels':
          for (const k of Object.keys(value)) expect(isValidLabelName(k), k).toBe(true);
          break;
        default:
          break; // fully checked by the loader above
      }
    }
  });

  it.each(CASES)('$name: promtool accepts every mounted rule file', (c) => {
    const docs = docsOf(c.name);
    const files = [...mountedFiles(docs, sts(docs, docs.find((d) => d.object.kind === 'StatefulSet')!.object.metadata.name)).entries()].filter(([p]) => p.includes('/rules/'));
    expect(files.length > 0).toBe(Object.keys(mergedValuesOf(c).collector.rules.extra).length > 0);
    for (const [p, text] of files) {
      const file = join(tmp, `${c.name.replace(/\W+/g, '-')}-${p.split('/').pop()}`);
      writeFileSync(file, text);
      const res = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(res.error, 'promtool (Debian package prometheus) must be installed').toBeUndefined();
      expect(res.status, `${p}: ${res.stdout}${res.stderr}`).toBe(0);
    }
  });

  it.each(CASES)('$name: amtool accepts the alert routing', (c) => {
    const docs = docsOf(c.name);
    const cm = docs.find((d) => d.object.kind === 'ConfigMap' && d.object.data?.['collector.yaml'])!.object;
    const { alertmanagers: _alertmanagers, ...routing } = YAML.parse(cm.data['collector.yaml']).alerting;
    const file = join(tmp, `${c.name.replace(/\W+/g, '-')}-alerting.yaml`);
    writeFileSync(file, YAML.stringify(routing));
    const res = spawnSync('amtool', ['check-config', file], { encoding: 'utf8' });
    expect(res.error, 'amtool (Debian package prometheus-alertmanager) must be installed').toBeUndefined();
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
  });

  it('rules: extra files come from values, objects and strings alike; none means no rules volume', () => {
    const fullRules = findDoc(docsOf(full), 'ConfigMap', 'pulse-collector-rules').data;
    expect(Object.keys(fullRules).sort()).toEqual(['team-a.yaml', 'team-b.yaml']);
    expect(YAML.parse(fullRules['team-a.yaml']).groups[0].rules[0].alert).toBe('TeamAHighErrorRate');
    expect(YAML.parse(fullRules['team-b.yaml']).groups[0].rules[0].record).toBe('team_b:http_requests:rate5m');
    expect(findDoc(docsOf('defaults'), 'ConfigMap', 'kubepulse-collector-rules').data).toEqual({});
    const vol = findDoc(docsOf('defaults'), 'StatefulSet', 'kubepulse-collector').spec.template.spec.volumes.find((v: any) => v.name === 'config');
    expect(vol.projected.sources).toHaveLength(1);
  });

  it('a default-rule switch naming no rule is refused by the collector\'s rule pack', async () => {
    const { defaultRuleGroups } = await import('../../collector/rules/default-rules/index.js');
    const cm = findDoc(renderChart({ set: ['collector.rules.defaults.rules.NoSuchAlert=false'] }), 'ConfigMap', 'kubepulse-collector');
    expect(() => defaultRuleGroups(YAML.parse(cm.data['collector.yaml']).default_rules)).toThrow(/NoSuchAlert/);
  });

  it('mounts the receiver Secret read-only only when one is named', () => {
    const spec = sts(docsOf(full), 'pulse-collector').spec.template.spec;
    expect(spec.volumes.find((v: any) => v.name === 'secrets')).toEqual({ name: 'secrets', secret: { secretName: 'kubepulse-receivers', defaultMode: 0o440 } });
    expect(spec.containers[0].volumeMounts.find((m: any) => m.name === 'secrets')).toEqual({ name: 'secrets', mountPath: '/etc/kubepulse-secrets', readOnly: true });
    expect(sts().spec.template.spec.volumes.map((v: any) => v.name)).not.toContain('secrets');
  });
});

describe('optional objects', () => {
  const kinds = (name: string) => objects(name).map((o) => o.kind);

  it('ServiceMonitor and PrometheusRule only when the CRDs exist or a value forces them', () => {
    expect(kinds('defaults')).not.toContain('ServiceMonitor');
    expect(kinds('defaults')).not.toContain('PrometheusRule');
    expect(kinds('defaults with the Prometheus Operator CRDs')).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule']));
    expect(kinds(full)).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule']));
    expect(kinds('ci/03-minimal-values.yaml')).not.toContain('ServiceMonitor');
    const off = renderChart({ apiVersions: OPERATOR_API_VERSIONS, set: ['collector.serviceMonitor.enabled=false', 'collector.prometheusRule.enabled=false'] });
    expect(off.map((d) => d.object.kind)).not.toContain('ServiceMonitor');
    expect(off.map((d) => d.object.kind)).not.toContain('PrometheusRule');
  });

  it('the PrometheusRule passes promtool', () => {
    const pr = findDoc(docsOf(full), 'PrometheusRule', 'pulse-collector');
    const file = join(tmp, 'prometheusrule.yaml');
    writeFileSync(file, YAML.stringify(pr.spec));
    const res = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
    expect(pr.spec.groups[0].rules[0].expr).toBe('absent(up{job="pulse-collector", namespace="kubepulse"} == 1)');
  });

  it('NetworkPolicy, PodDisruptionBudget and Ingress are off by default', () => {
    for (const k of ['NetworkPolicy', 'PodDisruptionBudget', 'Ingress']) {
      expect(kinds('defaults')).not.toContain(k);
      expect(kinds(full)).toContain(k);
    }
    const np = findDoc(docsOf(full), 'NetworkPolicy', 'pulse-collector');
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress[1].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
    ]);
    expect(np.spec.ingress).toHaveLength(3);
  });
});

describe('helm test pod', () => {
  let server: Server | undefined;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  let seen: Array<{ url: string; authorization?: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /** Runs the pod's command with the collector URL swapped for the local server. */
  async function runTestPod(): Promise<{ code: number | null; out: string }> {
    const pod = findDoc(docsOf('defaults'), 'Pod', 'kubepulse-test-query');
    expect(pod.metadata.annotations['helm.sh/hook']).toBe('test');
    const cmd: string[] = [...pod.spec.containers[0].command];
    expect(cmd.slice(-2)).toEqual(['http://kubepulse-collector.kubepulse.svc:9190', '/var/run/secrets/kubernetes.io/serviceaccount/token']);
    const tokenFile = join(tmp, 'reader-token');
    writeFileSync(tokenFile, 'reader-token-value\n');
    cmd.splice(-2, 2, `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, tokenFile);
    const child = spawn(process.execPath, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, out };
  }

  it('passes on a Prometheus API answer to /api/v1/query?query=up', async () => {
    seen = [];
    answer = { status: 200, body: { status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up' }, value: [1, '1'] }] } } };
    const r = await runTestPod();
    expect(r.code, r.out).toBe(0);
    expect(seen).toEqual([{ url: '/api/v1/query?query=up', authorization: 'Bearer reader-token-value' }]);
  });

  it('fails on an error answer', async () => {
    answer = { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error' } };
    const r = await runTestPod();
    expect(r.code).toBe(1);
    expect(r.out).toContain('bad_data');
  });
});

describe('names', () => {
  it('a 53-character release name (helm\'s limit) keeps names within 63 characters, workloads within 52, suffixes whole', () => {
    const name = 'r'.repeat(53);
    const objs = renderChart({ name }).map((d) => d.object);
    for (const o of objs) expect(o.metadata.name.length, `${o.kind} ${o.metadata.name}`).toBeLessThanOrEqual(63);
    // Workloads: the controller-revision-hash label (name + '-' + 10 characters) must fit in 63.
    const ds = objs.find((o) => o.kind === 'DaemonSet');
    const sts = objs.find((o) => o.kind === 'StatefulSet');
    expect(ds.metadata.name).toMatch(/^r{46}-agent$/);
    expect(sts.metadata.name).toMatch(/^r{42}-collector$/);
  });

  it('a release name containing the chart name is used alone; fullnameOverride wins', () => {
    expect(renderChart({ name: 'my-kubepulse' }).map((d) => d.object.metadata.name)).toContain('my-kubepulse-agent');
    expect(renderChart({ name: 'mon' }).map((d) => d.object.metadata.name)).toContain('mon-kubepulse-agent');
    expect(objects(full).map((o) => o.metadata.name)).toContain('pulse-agent');
  });
});

describe('NOTES.txt and template errors', () => {
  it('prints the port-forward and the first query', () => {
    const notes = renderNotes();
    expect(notes).toContain('kubectl port-forward --namespace kubepulse svc/kubepulse-collector 9190:9190');
    expect(notes).toContain('export TOKEN=$(kubectl create token --namespace kubepulse kubepulse-reader)');
    expect(notes).toContain('curl -s -H "Authorization: Bearer $TOKEN" "$KUBEPULSE_URL/api/v1/query?query=up"');
    expect(notes).toContain('helm test kubepulse --namespace kubepulse');
    expect(renderNotes({ set: ['collector.service.type=LoadBalancer'] })).toContain('.status.loadBalancer.ingress[0].ip');
  });

  it.each([
    { name: 'bad digest', set: ['image.digest=latest'], want: 'image.digest must start with sha256:' },
    { name: 'missing ServiceAccount name', set: ['agent.serviceAccount.create=false'], want: 'agent.serviceAccount.name must be set' },
    { name: 'bad rule file name', set: ['collector.rules.extra.Bad_Name=groups: []'], want: 'collector.rules.extra: "Bad_Name" is not a valid file name' },
    { name: 'volume size not a quantity', set: ['collector.persistence.size=10GB'], want: '"10GB" is not a Kubernetes storage quantity' },
    { name: 'ServiceMonitor without open /metrics', set: ['collector.serviceMonitor.force=true', 'collector.auth.openMetrics=false'], want: 'collector.serviceMonitor scrapes without a token' },
    { name: 'nothing could push', set: ['agent.enabled=false'], want: 'collector.auth.extraPushers must name at least one identity when agent.enabled is false' },
    { name: 'test pod without a reader', set: ['collector.auth.createReader=false'], want: 'tests.enabled needs collector.auth.createReader' },
  ])('$name: fails with a message naming the value', ({ set, want }) => {
    let err: unknown;
    try {
      renderChart({ set });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).stderr).toContain(want);
  });
});
