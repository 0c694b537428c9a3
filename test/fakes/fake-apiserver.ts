/**
 * A fake Kubernetes API server for tests: plain `node:http` on 127.0.0.1, speaking the
 * real list/watch JSON so that `@kubernetes/client-node` (informers, `ListWatch`, the
 * typed `CoreV1Api`/`AppsV1Api` clients) and anything else that talks to a real API
 * server work against it unchanged.
 *
 * What it serves
 * - List: `GET /api/v1/<resource>`, `GET /apis/<group>/<version>/<resource>`, and the
 *   namespaced forms `…/namespaces/<ns>/<resource>`. The answer is a `<Kind>List` with
 *   `metadata.resourceVersion`; items carry no `kind`/`apiVersion` (as the real server's
 *   JSON). Query parameters: `labelSelector` (`=`, `==`, `!=`, exists, `!k`, `in`,
 *   `notin`), `fieldSelector` (`=`, `!=` on any dotted path: `spec.nodeName`,
 *   `metadata.name`, `metadata.namespace`, `status.phase`, …), `limit` + `continue`.
 * - Get: `…/<resource>/<name>` (and `…/namespaces/<name>` for namespaces).
 * - Watch: the same list paths with `watch=true` or `watch=1` (or the legacy
 *   `/api/v1/watch/...` prefix). A chunked stream of JSON lines
 *   `{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":…}`.
 *   `resourceVersion` absent or `0`: synthetic ADDED for every current object, then
 *   live events. `resourceVersion=N`: every event after N, then live; when N is older
 *   than the compaction point ({@link FakeApiServer.compactBefore}) the stream is one
 *   `ERROR` event carrying a `Status` with `code: 410, reason: "Expired"` (message
 *   "too old resource version") and then ends, as kube-apiserver does.
 *   `allowWatchBookmarks=true`: a BOOKMARK with the current resourceVersion every
 *   `bookmarkIntervalMs` and on {@link FakeApiServer.sendBookmarks}. `timeoutSeconds`
 *   ends the stream cleanly. An object that stops (starts) matching the selectors on
 *   an update is sent as DELETED (ADDED), as the real watch cache does.
 * - `POST /apis/authentication.k8s.io/v1/tokenreviews`, answered from the token map.
 * - `/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>` discovery.
 * - Every error is a `Status` object with `code`, `reason` and `message`.
 *
 * resourceVersions are one global counter (as etcd's revision), decimal strings.
 * `add`/`update`/`remove` set `metadata.resourceVersion`, fill `uid` and
 * `creationTimestamp` when missing, and bump `metadata.generation` when `spec` changes.
 * Objects are deep-copied on the way in and out, so tests cannot alias server state.
 * Versions of one group share objects (an autoscaling/v2 HPA is also served under v1,
 * with `apiVersion` rewritten, without schema conversion). Core `v1` Events and
 * `events.k8s.io/v1` Events are separate stores.
 *
 * @example
 * ```ts
 * const api = await FakeApiServer.start();
 * api.addAll(loadFixtureObjects('k8s-api-objects/nri-kubernetes/k8s-1.31/pods.yaml'));
 * const kc = kubeconfigFor(api);
 * const pods = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces();
 * await api.close();
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import {
  DEFAULT_RESOURCES,
  groupVersion,
  parseApiVersion,
  type ResourceInfo,
} from './apiserver/resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, type KubeObject, type ObjectPredicate } from './apiserver/selectors.js';

export type { KubeObject, ResourceInfo };
export { loadFixtureObjects, loadNriCluster } from './apiserver/fixtures.js';

/** Watch event types, as on the wire. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** The user a token authenticates as in TokenReview answers. */
export interface FakeUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Options of {@link FakeApiServer.start}; every field is optional. */
export interface FakeApiServerOptions {
  /** Interval between BOOKMARK events on watches that allow them, ms. Default 1000. */
  bookmarkIntervalMs?: number;
  /** Bearer token → user, for TokenReview (and for `requireAuth`). Default empty. */
  tokens?: Record<string, FakeUser>;
  /**
   * When true, every request except `/version` needs `Authorization: Bearer <token>`
   * with a token of the map; others get 401. Default false.
   */
  requireAuth?: boolean;
  /** Extra resources to serve beyond {@link DEFAULT_RESOURCES}. */
  resources?: readonly ResourceInfo[];
  /** First resourceVersion handed out. Default 1000. */
  initialResourceVersion?: number;
  /** Serve HTTPS with this key and certificate (PEM) instead of plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** Identifies one object for {@link FakeApiServer.remove} and {@link FakeApiServer.get}. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** One request the server saw; kept for assertions (last 10,000). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
}

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: KubeObject;
  prev: KubeObject | undefined;
}

/** Objects of one group/resource (all versions). */
interface Store {
  info: ResourceInfo;
  objects: Map<string, KubeObject>;
  log: StoredEvent[];
}

interface Watcher {
  store: Store;
  version: string;
  namespace: string | undefined;
  match: ObjectPredicate;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
  bookmarks?: boolean;
}

interface Failure {
  path: string;
  status: number;
  remaining: number;
  watch: boolean | undefined;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'AlreadyExists',
  410: 'Gone',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** A Kubernetes `Status` object for an error answer. */
export function statusObject(code: number, message: string, reason = REASONS[code] ?? 'Unknown'): KubeObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** The fake API server; create with {@link FakeApiServer.start}, stop with {@link FakeApiServer.close}. */
export class FakeApiServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Requests seen, oldest first, bounded to the last 10,000. */
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly stores = new Map<string, Store>(); // group/resource
  private readonly byKind = new Map<string, ResourceInfo>(); // group/Kind
  private readonly served = new Map<string, ResourceInfo>(); // group/version/resource
  private readonly watchers = new Set<Watcher>();
  private readonly failures: Failure[] = [];
  private readonly tokens: Map<string, FakeUser>;
  private readonly bookmarkIntervalMs: number;
  private readonly requireAuth: boolean;
  private rv: number;
  private compactedRv = 0;

  private constructor(server: Server, url: string, opts: FakeApiServerOptions) {
    this.server = server;
    this.url = url;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    this.requireAuth = opts.requireAuth ?? false;
    this.tokens = new Map(Object.entries(opts.tokens ?? {}));
    this.rv = opts.initialResourceVersion ?? 1000;
    for (const r of [...DEFAULT_RESOURCES, ...(opts.resources ?? [])]) this.registerResource(r);
  }

  /** Starts a server on 127.0.0.1 with an OS-chosen port. */
  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }) : createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const api = new FakeApiServer(server, `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`, opts);
    server.on('request', (req, res) => api.handle(req, res));
    return api;
  }

  /** Ends every watch and stops listening. Idempotent. */
  async close(): Promise<void> {
    for (const w of [...this.watchers]) this.endWatch(w, true);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test control ------------------------------------------------------------

  /** Serves one more resource (any group/version, namespaced or not). */
  registerResource(r: ResourceInfo): void {
    this.served.set(`${r.group}/${r.version}/${r.resource}`, r);
    if (!this.byKind.has(`${r.group}/${r.kind}`)) this.byKind.set(`${r.group}/${r.kind}`, r);
    const sk = `${r.group}/${r.resource}`;
    if (!this.stores.has(sk)) this.stores.set(sk, { info: r, objects: new Map(), log: [] });
  }

  /**
   * Stops serving one group/version/resource (404 from then on), e.g. to test a
   * client's fallback from `events.k8s.io/v1` to core `v1` events. Stored objects stay.
   */
  unregisterResource(group: string, version: string, resource: string): void {
    this.served.delete(`${group}/${version}/${resource}`);
  }

  /** The current (newest) resourceVersion, as a string. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Number of open watch connections. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /**
   * Creates an object (its `apiVersion` and `kind` choose the resource) and sends ADDED
   * to matching watches. Returns the stored copy with server-set metadata. Throws when
   * the kind is not served, the name is missing, a namespaced object has no namespace,
   * or the object already exists.
   */
  add(obj: KubeObject): KubeObject {
    const { store, ns, name } = this.locate(obj);
    const key = objKey(ns, name);
    if (store.objects.has(key)) throw new Error(`${store.info.kind} ${key} already exists`);
    const o = structuredClone(obj);
    const md = (o.metadata ??= {});
    md.uid ??= randomUUID();
    md.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    md.generation ??= 1;
    if (!store.info.namespaced) delete md.namespace;
    md.resourceVersion = String(++this.rv);
    store.objects.set(key, o);
    this.record(store, 'ADDED', o, undefined);
    return structuredClone(o);
  }

  /** {@link add} for each object, in order. */
  addAll(objs: Iterable<KubeObject>): void {
    for (const o of objs) this.add(o);
  }

  /**
   * Replaces an existing object and sends MODIFIED. `uid` and `creationTimestamp` are
   * kept from the stored object; `generation` is bumped when `spec` differs. An update
   * that changes nothing still gets a new resourceVersion (as a real no-op PUT does not;
   * tests use this to simulate resyncs). Throws when the object does not exist.
   */
  update(obj: KubeObject): KubeObject {
    const { store, ns, name } = this.locate(obj);
    const key = objKey(ns, name);
    const prev = store.objects.get(key);
    if (!prev) throw new Error(`${store.info.kind} ${key} not found`);
    const o = structuredClone(obj);
    const md = (o.metadata ??= {});
    const pmd = prev.metadata ?? {};
    md.uid = pmd.uid;
    md.creationTimestamp = pmd.creationTimestamp;
    const pgen = typeof pmd.generation === 'number' ? pmd.generation : 1;
    md.generation = isDeepStrictEqual(prev.spec, o.spec) ? pgen : pgen + 1;
    if (!store.info.namespaced) delete md.namespace;
    md.resourceVersion = String(++this.rv);
    store.objects.set(key, o);
    this.record(store, 'MODIFIED', o, prev);
    return structuredClone(o);
  }

  /** Calls `fn` on a copy of the stored object and {@link update}s with the result. */
  modify(ref: ObjectRef, fn: (obj: KubeObject) => void): KubeObject {
    const cur = this.get(ref);
    if (!cur) throw new Error(`${ref.kind} ${objKey(ref.namespace, ref.name)} not found`);
    fn(cur);
    return this.update(cur);
  }

  /** Deletes an object and sends DELETED (with a new resourceVersion). Returns false when absent. */
  remove(ref: ObjectRef | KubeObject): boolean {
    const { store, ns, name } = this.locate(toObject(ref));
    const key = objKey(ns, name);
    const prev = store.objects.get(key);
    if (!prev) return false;
    store.objects.delete(key);
    const o = structuredClone(prev);
    o.metadata!.resourceVersion = String(++this.rv);
    this.record(store, 'DELETED', o, prev);
    return true;
  }

  /** A copy of a stored object, or undefined. */
  get(ref: ObjectRef): KubeObject | undefined {
    const { store, ns, name } = this.locate(toObject(ref));
    const o = store.objects.get(objKey(ns, name));
    return o ? structuredClone(o) : undefined;
  }

  /** Copies of every stored object of the kind of `apiVersion`/`kind`. */
  list(apiVersion: string, kind: string): KubeObject[] {
    const store = this.storeForKind(apiVersion, kind);
    return [...store.objects.values()].map((o) => structuredClone(o));
  }

  /**
   * Forgets the event history before `rv` (default: the current resourceVersion), so
   * a watch from an older resourceVersion gets an ERROR 410 event. Open watches are
   * not affected; combine with {@link dropWatches} or {@link expireWatches}.
   */
  compactBefore(rv: string | number = this.rv): void {
    const n = typeof rv === 'number' ? rv : Number(rv);
    if (!Number.isInteger(n)) throw new Error(`compactBefore: not a resourceVersion: ${String(rv)}`);
    this.compactedRv = Math.max(this.compactedRv, n);
    for (const s of this.stores.values()) s.log = s.log.filter((e) => e.rv >= this.compactedRv);
  }

  /** Cuts every open watch connection abruptly (socket destroyed, no clean end). */
  dropWatches(): void {
    for (const w of [...this.watchers]) this.endWatch(w, true);
  }

  /** Ends every open watch stream cleanly, as the server's watch timeout does. */
  closeWatches(): void {
    for (const w of [...this.watchers]) this.endWatch(w, false);
  }

  /**
   * Sends every open watch an ERROR event with a 410 Status and ends it, as when a
   * watcher falls behind the watch cache; also compacts history up to now so that a
   * re-watch from the old resourceVersion gets 410 again and the client must relist.
   */
  expireWatches(): void {
    this.compactBefore(this.rv);
    for (const w of [...this.watchers]) {
      this.writeEvent(w, 'ERROR', statusObject(410, `too old resource version: ${this.rv}`, 'Expired'));
      this.endWatch(w, false);
    }
  }

  /** Sends a BOOKMARK now on every watch that allowed bookmarks. */
  sendBookmarks(): void {
    for (const w of this.watchers) if (w.bookmarks) this.bookmark(w);
  }

  /**
   * The next `times` requests (default 1) whose URL path equals `path` (no query) get
   * HTTP `status` with a Status body. `watch` restricts to watch (true) or
   * non-watch (false) requests; default both.
   */
  failNext(path: string, status: number, opts: { times?: number; watch?: boolean } = {}): void {
    this.failures.push({ path, status, remaining: opts.times ?? 1, watch: opts.watch });
  }

  /** Adds or replaces a token for TokenReview and `requireAuth`. */
  setToken(token: string, user: FakeUser): void {
    this.tokens.set(token, user);
  }

  // ---- internals ---------------------------------------------------------------

  private storeForKind(apiVersion: string, kind: string): Store {
    const { group } = parseApiVersion(apiVersion);
    const info = this.byKind.get(`${group}/${kind}`);
    if (!info) throw new Error(`fake apiserver does not serve ${apiVersion} ${kind} (registerResource it)`);
    return this.stores.get(`${info.group}/${info.resource}`)!;
  }

  private locate(obj: KubeObject): { store: Store; ns: string | undefined; name: string } {
    if (!obj.apiVersion || !obj.kind) throw new Error('object needs apiVersion and kind');
    const store = this.storeForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${obj.kind} without metadata.name`);
    const ns = store.info.namespaced ? obj.metadata?.namespace : undefined;
    if (store.info.namespaced && !ns) throw new Error(`${obj.kind} ${name} needs metadata.namespace`);
    return { store, ns, name };
  }

  private record(store: Store, type: StoredEvent['type'], obj: KubeObject, prev: KubeObject | undefined): void {
    const ev: StoredEvent = { rv: this.rv, type, obj, prev };
    store.log.push(ev);
    for (const w of this.watchers) if (w.store === store) this.deliver(w, ev);
  }

  /** Sends one stored event to a watcher, translating selector transitions. */
  private deliver(w: Watcher, ev: StoredEvent): void {
    const inScope = (o: KubeObject | undefined) =>
      o !== undefined && (w.namespace === undefined || o.metadata?.namespace === w.namespace) && w.match(o);
    const now = inScope(ev.obj);
    const before = ev.type === 'ADDED' ? false : inScope(ev.prev);
    if (ev.type === 'DELETED') {
      if (before) this.writeEvent(w, 'DELETED', ev.obj);
    } else if (now && before) this.writeEvent(w, 'MODIFIED', ev.obj);
    else if (now) this.writeEvent(w, 'ADDED', ev.obj);
    else if (before) this.writeEvent(w, 'DELETED', ev.obj);
  }

  private withTypeMeta(obj: KubeObject, info: ResourceInfo, version: string): KubeObject {
    return { ...obj, apiVersion: groupVersion({ group: info.group, version }), kind: info.kind };
  }

  private writeEvent(w: Watcher, type: WatchEventType, obj: KubeObject): void {
    if (w.res.destroyed || w.res.writableEnded) return;
    const object = type === 'ERROR' ? obj : this.withTypeMeta(obj, w.store.info, w.version);
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private bookmark(w: Watcher): void {
    this.writeEvent(w, 'BOOKMARK', { metadata: { resourceVersion: String(this.rv) } });
  }

  private endWatch(w: Watcher, abrupt: boolean): void {
    if (!this.watchers.delete(w)) return;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.res.destroy();
    else if (!w.res.writableEnded) w.res.end();
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private fail(res: ServerResponse, status: number, message: string, reason?: string): void {
    this.send(res, status, statusObject(status, message, reason));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    let path = url.pathname.replace(/\/+$/, '') || '/';
    let watch = query.watch === 'true' || query.watch === '1';
    const legacyWatch = path.match(/^(\/api\/v1|\/apis\/[^/]+\/[^/]+)\/watch(\/.*)$/);
    if (legacyWatch) {
      path = legacyWatch[1] + legacyWatch[2];
      watch = true;
    }
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, watch });
    if (this.requests.length > 10_000) this.requests.splice(0, this.requests.length - 10_000);

    const fi = this.failures.findIndex((f) => f.path === url.pathname && (f.watch === undefined || f.watch === watch));
    if (fi >= 0) {
      const f = this.failures[fi];
      if (--f.remaining <= 0) this.failures.splice(fi, 1);
      this.fail(res, f.status, `injected failure for ${url.pathname}`);
      return;
    }
    if (this.requireAuth && path !== '/version') {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!m || !this.tokens.has(m[1])) {
        this.fail(res, 401, 'Unauthorized');
        return;
      }
    }
    if (req.method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      this.tokenReview(req, res);
      return;
    }
    if (req.method !== 'GET') {
      this.fail(res, 405, `the fake apiserver does not support ${req.method} ${path}`);
      return;
    }
    try {
      if (this.discovery(path, res)) return;
      this.resourceRequest(path, query, watch, res);
    } catch (err) {
      if (err instanceof SelectorError) this.fail(res, 400, err.message);
      else this.fail(res, 500, String(err));
    }
  }

  private tokenReview(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { spec?: { token?: string; audiences?: string[] } };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        this.fail(res, 400, 'TokenReview body is not JSON');
        return;
      }
      const token = body.spec?.token;
      if (typeof token !== 'string' || token === '') {
        this.fail(res, 422, 'TokenReview.authentication.k8s.io is invalid: spec.token: Required value', 'Invalid');
        return;
      }
      const user = this.tokens.get(token);
      const status = user
        ? {
            authenticated: true,
            user: { username: user.username, uid: user.uid ?? '', groups: user.groups ?? [], ...(user.extra ? { extra: user.extra } : {}) },
            audiences: body.spec?.audiences ?? [],
          }
        : { authenticated: false, user: {}, error: 'token not recognised' };
      this.send(res, 201, {
        kind: 'TokenReview',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { creationTimestamp: null },
        spec: body.spec,
        status,
      });
    });
  }

  private discovery(path: string, res: ServerResponse): boolean {
    if (path === '/version') {
      this.send(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-kubepulse-fake', platform: 'linux/amd64' });
      return true;
    }
    if (path === '/api') {
      this.send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      return true;
    }
    const all = [...this.served.values()];
    if (path === '/apis') {
      const groups = new Map<string, string[]>();
      for (const r of all) if (r.group !== '') groups.set(r.group, [...new Set([...(groups.get(r.group) ?? []), r.version])]);
      this.send(res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
      return true;
    }
    const m = path.match(/^\/api\/(v1)$|^\/apis\/([^/]+)\/([^/]+)$/);
    if (!m) return false;
    const group = m[1] ? '' : m[2];
    const version = m[1] ?? m[3];
    const rs = all.filter((r) => r.group === group && r.version === version);
    if (rs.length === 0) return false;
    this.send(res, 200, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: groupVersion({ group, version }),
      resources: rs.map((r) => ({ name: r.resource, namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'list', 'watch'] })),
    });
    return true;
  }

  private resourceRequest(path: string, query: Record<string, string>, watch: boolean, res: ServerResponse): void {
    const m = path.match(/^\/api\/(v1)\/(.+)$|^\/apis\/([^/]+)\/([^/]+)\/(.+)$/);
    if (!m) {
      this.fail(res, 404, `the server could not find the requested resource (${path})`);
      return;
    }
    const group = m[1] ? '' : m[3];
    const version = m[1] ?? m[4];
    const segs = (m[2] ?? m[5]).split('/').map(decodeURIComponent);
    let namespace: string | undefined;
    let resource: string;
    let name: string | undefined;
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      namespace = segs[1];
      resource = segs[2];
      name = segs[3];
      if (segs.length > 4) {
        this.fail(res, 404, `subresource ${segs.slice(4).join('/')} is not served by the fake apiserver`);
        return;
      }
    } else {
      resource = segs[0];
      name = segs[1];
      if (segs.length > 2) {
        this.fail(res, 404, `subresource ${segs.slice(2).join('/')} is not served by the fake apiserver`);
        return;
      }
    }
    const info = this.served.get(`${group}/${version}/${resource}`);
    if (!info || (namespace !== undefined && !info.namespaced)) {
      this.fail(res, 404, `the server could not find the requested resource (${path})`);
      return;
    }
    const store = this.stores.get(`${info.group}/${info.resource}`)!;
    if (name !== undefined) {
      if (watch) {
        // A watch on one object is a watch with a metadata.name field selector.
        query = { ...query, fieldSelector: [query.fieldSelector, `metadata.name=${name}`].filter(Boolean).join(',') };
      } else {
        const o = store.objects.get(objKey(info.namespaced ? namespace : undefined, name));
        if (!o) this.fail(res, 404, `${info.resource} "${name}" not found`);
        else this.send(res, 200, this.withTypeMeta(o, info, version));
        return;
      }
    }
    const lp = parseLabelSelector(query.labelSelector);
    const fp = parseFieldSelector(query.fieldSelector);
    const match: ObjectPredicate = (o) => lp(o) && fp(o);
    if (watch) this.startWatch(store, version, namespace, match, query, res);
    else this.sendList(store, version, namespace, match, query, res);
  }

  private sendList(
    store: Store,
    version: string,
    namespace: string | undefined,
    match: ObjectPredicate,
    query: Record<string, string>,
    res: ServerResponse,
  ): void {
    let items = [...store.objects.values()].filter(
      (o) => (namespace === undefined || o.metadata?.namespace === namespace) && match(o),
    );
    const meta: Record<string, unknown> = { resourceVersion: String(this.rv) };
    const offset = query.continue ? Number(Buffer.from(query.continue, 'base64url').toString('utf8')) : 0;
    if (!Number.isInteger(offset) || offset < 0) {
      this.fail(res, 400, 'continue token is not valid');
      return;
    }
    const limit = query.limit ? Number(query.limit) : 0;
    if (limit > 0 || offset > 0) {
      const end = limit > 0 ? offset + limit : items.length;
      if (end < items.length) {
        meta.continue = Buffer.from(String(end), 'utf8').toString('base64url');
        meta.remainingItemCount = items.length - end;
      }
      items = items.slice(offset, end);
    }
    // Real list items carry no kind/apiVersion in JSON; clients must not rely on them.
    const out = items.map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = o;
      return rest;
    });
    this.send(res, 200, {
      kind: `${store.info.kind}List`,
      apiVersion: groupVersion({ group: store.info.group, version }),
      metadata: meta,
      items: out,
    });
  }

  private startWatch(
    store: Store,
    version: string,
    namespace: string | undefined,
    match: ObjectPredicate,
    query: Record<string, string>,
    res: ServerResponse,
  ): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { store, version, namespace, match, res, timers: [] };
    this.watchers.add(w);
    res.on('close', () => this.endWatch(w, false));
    const from = query.resourceVersion;
    if (from === undefined || from === '' || from === '0') {
      for (const o of store.objects.values()) {
        if ((namespace === undefined || o.metadata?.namespace === namespace) && match(o)) this.writeEvent(w, 'ADDED', o);
      }
    } else {
      const n = Number(from);
      if (!Number.isInteger(n) || n < this.compactedRv) {
        this.writeEvent(w, 'ERROR', statusObject(410, `too old resource version: ${from} (${this.compactedRv})`, 'Expired'));
        this.endWatch(w, false);
        return;
      }
      for (const ev of store.log) if (ev.rv > n) this.deliver(w, ev);
    }
    if (query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1') {
      w.bookmarks = true;
      const tick = () => {
        if (!this.watchers.has(w)) return;
        this.bookmark(w);
        w.timers[0] = setTimeout(tick, this.bookmarkIntervalMs).unref();
      };
      w.timers[0] = setTimeout(tick, this.bookmarkIntervalMs).unref();
    }
    const timeout = Number(query.timeoutSeconds);
    if (Number.isFinite(timeout) && timeout > 0) {
      w.timers.push(setTimeout(() => this.endWatch(w, false), timeout * 1000).unref());
    }
  }
}

function toObject(ref: ObjectRef | KubeObject): KubeObject {
  if ('metadata' in ref && ref.metadata) return ref as KubeObject;
  const r = ref as ObjectRef;
  return { apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.name, namespace: r.namespace } };
}

/** Options of {@link kubeconfigFor}. */
export interface KubeconfigForOptions {
  /** Bearer token the client sends. Default `fake-token`. */
  token?: string;
  /** Default namespace of the context. */
  namespace?: string;
}

/**
 * A `KubeConfig` (built with `loadFromOptions`) whose current context points at the
 * fake server. Use `kc.exportConfig()` to write it to a file for `--kubeconfig` tests.
 */
export function kubeconfigFor(server: FakeApiServer | string, opts: KubeconfigForOptions = {}): KubeConfig {
  const url = typeof server === 'string' ? server : server.url;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake', token: opts.token ?? 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace: opts.namespace }],
    currentContext: 'fake',
  });
  return kc;
}
