/**
 * One informer per watched kind: client-node's `ListWatch` (list, then watch from the
 * list's resourceVersion; relist after 410 Gone), restarted with exponential backoff
 * after any other error, since client-node 1.4 stops its ListWatch on errors.
 */
import { ListWatch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { backoffDelay, errorMessage, noopLogger, sleep, type Logger } from '../../shared/index.js';
import { TrimmingWatch, isServed, listAll, trimObject, trimPod } from './kube-client.js';
import type { WatchedResource } from './resources.js';
import type { Obj } from './ksm/index.js';

/** What a {@link ResourceWatcher} reports. Handlers must not throw. */
export interface WatchHandlers {
  /** An object was added or changed (a relist re-delivers only objects whose resourceVersion changed). */
  upsert(r: WatchedResource, o: Obj): void;
  /** An object was deleted (or vanished in a relist). */
  remove(r: WatchedResource, o: Obj): void;
  /** The first list after a (re)start completed; the cache is complete. */
  synced?(r: WatchedResource): void;
  /** The watch went up (true) or down (false). */
  up?(r: WatchedResource, up: boolean): void;
}

export interface ResourceWatcherOptions {
  kc: KubeConfig;
  resource: WatchedResource;
  handlers: WatchHandlers;
  logger?: Logger;
  /** Backoff after errors: first delay and cap, ms. Defaults 1000 and 30000. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Waits between restarts; replaced in tests. Default {@link sleep}. */
  delayFn?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Page size of lists. Default 500. */
  pageSize?: number;
}

/** A restartable informer over one kind; see the module comment. */
export class ResourceWatcher {
  readonly resource: WatchedResource;
  private readonly opts: ResourceWatcherOptions;
  private readonly log: Logger;
  private lw: ListWatch<KubernetesObject> | undefined;
  private readonly abort = new AbortController();
  private errors = 0;
  private attempt = 0;
  private running = false;
  private _up = false;
  private path: string | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(opts: ResourceWatcherOptions) {
    this.opts = opts;
    this.resource = opts.resource;
    this.log = (opts.logger ?? noopLogger()).child({ resource: opts.resource.resource });
  }

  /** True while the last list/watch succeeded and no error has been seen since. */
  get up(): boolean {
    return this._up;
  }

  /** The path in use (after the events.k8s.io → core fallback), once known. */
  get servedPath(): string | undefined {
    return this.path;
  }

  /** Cached objects (all namespaces). */
  list(): readonly Obj[] {
    return this.lw ? this.lw.list() : [];
  }

  /** A cached object, or undefined. */
  get(name: string, namespace?: string): Obj | undefined {
    return this.lw?.get(name, namespace);
  }

  /**
   * Starts watching; resolves after the first successful list (or when stopped). Errors
   * never reject: they are logged and retried with backoff for as long as it runs.
   */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    let first: () => void = () => {};
    const synced = new Promise<void>((r) => (first = r));
    this.loop = this.run(first);
    return Promise.race([synced, this.loop]);
  }

  /** Stops the watch and any pending restart. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.wake?.();
    await this.lw?.stop();
    await this.loop;
  }

  private setUp(up: boolean): void {
    if (this._up === up) return;
    this._up = up;
    this.opts.handlers.up?.(this.resource, up);
  }

  private async resolvePath(): Promise<string> {
    const { paths } = this.resource;
    for (let i = 0; i < paths.length - 1; i++) {
      if (await isServed(this.opts.kc, paths[i])) return paths[i];
      this.log.info({ path: paths[i], fallback: paths[i + 1] }, 'API path not served, falling back');
    }
    return paths[paths.length - 1];
  }

  private build(path: string): ListWatch<KubernetesObject> {
    const { kc, handlers, pageSize } = this.opts;
    const r = this.resource;
    const trim = r.kind === 'Pod' ? trimPod : trimObject;
    const lw = new ListWatch<KubernetesObject>(path, new TrimmingWatch(kc, trim), () => listAll(kc, path, pageSize, trim) as never, false);
    lw.on('add', (o) => handlers.upsert(r, o));
    lw.on('update', (o) => handlers.upsert(r, o));
    lw.on('delete', (o) => handlers.remove(r, o));
    lw.on('error', (err) => {
      if (!this.running) return; // the abort of stop() surfaces as an error
      this.errors++;
      this.setUp(false);
      this.log.warn({ err: errorMessage(err) }, 'watch failed; restarting with backoff');
      this.wake?.();
    });
    return lw;
  }

  private async run(first: () => void): Promise<void> {
    const delay = this.opts.delayFn ?? sleep;
    while (this.running) {
      const seen = this.errors;
      try {
        this.path ??= await this.resolvePath();
        this.lw ??= this.build(this.path);
        await this.lw.start();
      } catch (err) {
        this.errors++;
        this.log.warn({ err: errorMessage(err) }, 'list failed; retrying with backoff');
      }
      if (!this.running) break;
      if (this.errors === seen) {
        this.attempt = 0;
        this.setUp(true);
        this.opts.handlers.synced?.(this.resource);
        first();
        // Park until an error event asks for a restart (or stop()).
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (this.errors !== seen || !this.running) resolve();
        });
        this.wake = undefined;
        if (!this.running) break;
      } else {
        this.setUp(false);
      }
      await delay(backoffDelay(this.attempt++, this.opts.backoffBaseMs ?? 1000, this.opts.backoffMaxMs ?? 30_000), this.abort.signal);
    }
    first();
  }
}
