/**
 * The pods on this node, by pod UID and by container ID: what the kubelet and cgroup
 * sources need to name a series (`namespace`, `pod`, `container`, `image`).
 */

/** The fields of a `v1.Pod` the index reads (a Pod as the API server serves it has many more). */
export interface PodObject {
  metadata?: { uid?: string; name?: string; namespace?: string; resourceVersion?: string };
  spec?: { initContainers?: ContainerSpec[]; containers?: ContainerSpec[]; ephemeralContainers?: ContainerSpec[] };
  status?: { initContainerStatuses?: ContainerStatus[]; containerStatuses?: ContainerStatus[]; ephemeralContainerStatuses?: ContainerStatus[] };
}
interface ContainerSpec {
  name: string;
  image?: string;
}
interface ContainerStatus {
  name: string;
  image?: string;
  containerID?: string;
  // Not read; declared so a status written out in full type-checks.
  imageID?: string;
  ready?: boolean;
  restartCount?: number;
}

/** One container of a pod, as the pod's spec and status describe it. */
export interface ContainerInfo {
  readonly name: string;
  /** The image the spec asks for (`spec.containers[].image`), as cAdvisor's `image` label shows it. */
  readonly image: string;
  /** Runtime container ID without its scheme (`containerd://` etc.); '' until the container has started. */
  readonly id: string;
}

export interface PodInfo {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** Init, regular and ephemeral containers. */
  readonly containers: readonly ContainerInfo[];
}

/** A container found by its runtime ID. */
export interface ContainerRef {
  readonly pod: PodInfo;
  readonly container: ContainerInfo;
}

/**
 * Read side of the pod index. Lookups are synchronous map reads, safe to call many times
 * per tick; results reflect the last event applied.
 */
export interface PodIndex {
  /** The pod with this UID (dashes, as in `metadata.uid`). */
  pod(uid: string): PodInfo | undefined;
  /** The container with this runtime ID (scheme stripped, full 64-hex ID). */
  container(id: string): ContainerRef | undefined;
  /** True once the index holds a complete list (the first list succeeded). */
  synced(): boolean;
  /** Number of pods held. */
  size(): number;
}

const SCHEME = /^[a-z0-9-]+:\/\//;

/** `containerd://abc` → `abc`; `cri-o://abc`, `docker://abc` likewise; '' stays ''. */
export function stripContainerIdScheme(id: string | undefined): string {
  if (!id) return '';
  return id.replace(SCHEME, '');
}

/** Builds the {@link PodInfo} of one API `Pod`; undefined when the pod has no UID. */
export function podInfoFromPod(pod: PodObject): PodInfo | undefined {
  const uid = pod.metadata?.uid;
  if (!uid) return undefined;
  const statusByName = new Map<string, ContainerStatus>();
  for (const list of [pod.status?.initContainerStatuses, pod.status?.containerStatuses, pod.status?.ephemeralContainerStatuses]) {
    for (const s of list ?? []) statusByName.set(s.name, s);
  }
  const containers: ContainerInfo[] = [];
  const specs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  for (const c of specs) {
    const st = statusByName.get(c.name);
    containers.push({ name: c.name, image: c.image ?? st?.image ?? '', id: stripContainerIdScheme(st?.containerID) });
  }
  return { uid, namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', containers };
}

/**
 * A mutable {@link PodIndex}: the discovery watch (or a test) applies pods to it.
 * Single-threaded like everything in Node: no locking.
 */
export class PodStore implements PodIndex {
  private readonly byUid = new Map<string, PodInfo>();
  private readonly byContainerId = new Map<string, ContainerRef>();
  /** `namespace/name` → uid: a StatefulSet pod recreated under the same name replaces the old UID. */
  private readonly byName = new Map<string, string>();
  private isSynced = false;

  pod(uid: string): PodInfo | undefined {
    return this.byUid.get(uid);
  }

  container(id: string): ContainerRef | undefined {
    return this.byContainerId.get(id);
  }

  synced(): boolean {
    return this.isSynced;
  }

  size(): number {
    return this.byUid.size;
  }

  /** Adds or replaces one pod (an ADD or UPDATE event). */
  upsert(pod: PodObject): void {
    const info = podInfoFromPod(pod);
    if (!info) return;
    this.removeUid(info.uid);
    const key = `${info.namespace}/${info.name}`;
    const previous = this.byName.get(key);
    if (previous !== undefined && previous !== info.uid) this.removeUid(previous);
    this.byName.set(key, info.uid);
    this.byUid.set(info.uid, info);
    for (const c of info.containers) if (c.id) this.byContainerId.set(c.id, { pod: info, container: c });
  }

  /** Removes one pod (a DELETE event). */
  delete(pod: PodObject): void {
    const uid = pod.metadata?.uid;
    if (uid) this.removeUid(uid);
  }

  /** Replaces everything with a complete list and marks the index synced. */
  replaceAll(pods: Iterable<PodObject>): void {
    this.byUid.clear();
    this.byContainerId.clear();
    this.byName.clear();
    for (const p of pods) this.upsert(p);
    this.isSynced = true;
  }

  /** Marks the index synced (after a list applied through events). */
  markSynced(): void {
    this.isSynced = true;
  }

  private removeUid(uid: string): void {
    const old = this.byUid.get(uid);
    if (!old) return;
    this.byUid.delete(uid);
    const key = `${old.namespace}/${old.name}`;
    if (this.byName.get(key) === uid) this.byName.delete(key);
    for (const c of old.containers) if (c.id && this.byContainerId.get(c.id)?.pod === old) this.byContainerId.delete(c.id);
  }
}
