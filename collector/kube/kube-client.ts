/**
 * The two ways the collector talks to the API server: a paginated raw-JSON list (with
 * the kubeconfig's credentials and TLS settings) and client-node's `Watch`, both
 * passing objects through {@link trimObject} so the caches hold only what is used.
 * Raw JSON rather than the typed clients because list and watch then deliver the same
 * shape (the typed clients turn timestamps into Dates; the watch does not).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Obj } from './ksm/index.js';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** An HTTP error from the API server; `statusCode` is what ListWatch branches on (410). */
export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly code: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.code = statusCode;
  }
}

function stripContainers(cs: Obj[] | undefined): void {
  for (const c of cs ?? []) {
    // Env values may hold secrets and are never needed: keep the names only.
    if (Array.isArray(c.env)) c.env = c.env.map((e: Obj) => ({ name: e.name }));
  }
}

/**
 * Removes in place what the collector never uses and must not keep: managedFields, the
 * last-applied-configuration annotation, env values of pods and pod templates, and
 * Secret/ConfigMap payloads. Returns `o`.
 */
export function trimObject(o: Obj): Obj {
  if (!o || typeof o !== 'object') return o;
  const md = o.metadata;
  if (md) {
    delete md.managedFields;
    if (md.annotations && LAST_APPLIED in md.annotations) delete md.annotations[LAST_APPLIED];
  }
  delete o.data;
  delete o.stringData;
  delete o.binaryData;
  const specs = [o.spec, o.spec?.template?.spec, o.spec?.jobTemplate?.spec?.template?.spec];
  for (const s of specs) {
    if (!s) continue;
    stripContainers(s.containers);
    stripContainers(s.initContainers);
    stripContainers(s.ephemeralContainers);
  }
  return o;
}

const POD_CONTAINER_UNUSED = [
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'volumeMounts',
  'volumeDevices',
  'securityContext',
  'lifecycle',
  'ports',
  'command',
  'args',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'imagePullPolicy',
  'workingDir',
];

/**
 * {@link trimObject} plus the pod fields no series, view or topology reads (volumes,
 * probes, mounts, security contexts, …): pods are most of a cluster's objects, so this
 * is most of the cache's memory.
 */
export function trimPod(o: Obj): Obj {
  trimObject(o);
  const spec = o?.spec;
  if (spec) {
    delete spec.volumes;
    delete spec.affinity;
    delete spec.securityContext;
    for (const cs of [spec.containers, spec.initContainers, spec.ephemeralContainers]) {
      for (const c of (cs ?? []) as Obj[]) for (const f of POD_CONTAINER_UNUSED) delete c[f];
    }
  }
  const st = o?.status;
  if (st) {
    for (const cs of [st.containerStatuses, st.initContainerStatuses, st.ephemeralContainerStatuses]) {
      for (const c of (cs ?? []) as Obj[]) {
        delete c.volumeMounts;
        delete c.user;
        delete c.allocatedResources;
        delete c.resources;
      }
    }
  }
  return o;
}

/** client-node's Watch with every delivered object trimmed; a drop-in for ListWatch. */
export class TrimmingWatch extends Watch {
  private readonly trim: (o: Obj) => Obj;
  constructor(kc: KubeConfig, trim: (o: Obj) => Obj = trimObject) {
    super(kc);
    this.trim = trim;
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: Obj, watchObj?: Obj) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, obj, raw) => callback(phase, phase === 'ERROR' ? obj : this.trim(obj), raw), done);
  }
}

async function getJson(kc: KubeConfig, path: string, signal?: AbortSignal): Promise<Obj> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  const req = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const r = req(url, { ...opts, method: 'GET', headers: { ...opts.headers, accept: 'application/json' }, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          let msg = text.slice(0, 300);
          try {
            msg = (JSON.parse(text) as { message?: string }).message ?? msg;
          } catch {
            // not a Status object; keep the raw text
          }
          reject(new KubeApiError(status, `GET ${path}: HTTP ${status}: ${msg}`));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (cause) {
          reject(new Error(`GET ${path}: response is not JSON`, { cause }));
        }
      });
    });
    r.on('error', reject);
    r.end();
  });
}

/** A full list, fetched in pages of `pageSize`; items trimmed. resourceVersion is the first page's. */
export async function listAll(kc: KubeConfig, path: string, pageSize = 500, trim: (o: Obj) => Obj = trimObject): Promise<{ metadata: { resourceVersion: string }; items: Obj[] }> {
  const items: Obj[] = [];
  let rv = '';
  let cont = '';
  for (let page = 0; ; page++) {
    const q = new URLSearchParams({ limit: String(pageSize) });
    if (cont) q.set('continue', cont);
    const body = await getJson(kc, `${path}?${q}`);
    if (page === 0) rv = String(body.metadata?.resourceVersion ?? '');
    for (const it of (body.items ?? []) as Obj[]) items.push(trim(it));
    cont = body.metadata?.continue ?? '';
    if (!cont) break;
  }
  return { metadata: { resourceVersion: rv }, items };
}

/** True when `path` is served (a one-item list answers 200); false on 404. */
export async function isServed(kc: KubeConfig, path: string): Promise<boolean> {
  try {
    await getJson(kc, `${path}?limit=1`);
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 404) return false;
    throw err;
  }
}
