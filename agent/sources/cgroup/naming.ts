/**
 * Recognises Kubernetes cgroup directory names, for both cgroup drivers and the common
 * runtimes:
 *
 * - cgroupfs: `kubepods/burstable/pod<uid>/<id>` (containerd, docker), `…/crio-<id>`
 * - systemd: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/`
 *   then `cri-containerd-<id>.scope`, `crio-<id>.scope` or `docker-<id>.scope`
 * - kind and other nested kubelets: the same under `kubelet.slice/kubelet-kubepods.slice/…`,
 *   pod slices named `kubelet-kubepods-burstable-pod<uid>.slice`
 */

const POD_DIR = /^(?:[a-z0-9-]*-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const CONTAINER_DIR = /^(?:(?:cri-containerd|crio|docker)-)?([0-9a-f]{64})(?:\.scope)?$/;
const KUBEPODS_DIR = /^(?:[a-z0-9]+-)?kubepods(?:\.slice)?$/;

/** The pod UID (with dashes) of a pod cgroup directory name, or undefined. */
export function podUidFromDir(name: string): string | undefined {
  const m = POD_DIR.exec(name);
  return m ? m[1].replace(/_/g, '-') : undefined;
}

/**
 * The runtime container ID of a container cgroup directory name, or undefined (for
 * `crio-conmon-<id>.scope` and anything else that is not a container).
 */
export function containerIdFromDir(name: string): string | undefined {
  return CONTAINER_DIR.exec(name)?.[1];
}

/** True for the top of the Kubernetes tree: `kubepods`, `kubepods.slice`, `kubelet-kubepods.slice`. */
export function isKubepodsDir(name: string): boolean {
  return KUBEPODS_DIR.test(name);
}
