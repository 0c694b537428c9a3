/**
 * `kube_persistentvolumeclaim_*`, `kube_persistentvolume_*` and `kube_service_*`
 * series, with kube-state-metrics' names, labels and semantics.
 */
import { SampleList, allowlisted, epochSeconds, parseQuantity, type KsmOptions, type KsmSample, type Obj } from './common.js';

export function pvcSamples(c: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const md = c.metadata ?? {};
  const base = { namespace: md.namespace ?? '', persistentvolumeclaim: md.name ?? '' };
  const spec = c.spec ?? {};
  s.add('kube_persistentvolumeclaim_created', base, epochSeconds(md.creationTimestamp));
  s.add('kube_persistentvolumeclaim_labels', { ...base, ...allowlisted(md.labels, opts.labelsAllowlist?.persistentvolumeclaims, 'label') }, 1);
  s.add('kube_persistentvolumeclaim_info', {
    ...base,
    storageclass: spec.storageClassName ?? md.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? '',
    volumename: spec.volumeName ?? '',
    volumemode: spec.volumeMode ?? '',
  }, 1);
  const phase = c.status?.phase;
  if (phase) for (const p of ['Lost', 'Bound', 'Pending']) s.add('kube_persistentvolumeclaim_status_phase', { ...base, phase: p }, phase === p ? 1 : 0);
  const req = spec.resources?.requests?.storage;
  if (req !== undefined) s.add('kube_persistentvolumeclaim_resource_requests_storage_bytes', base, Math.ceil(parseQuantity(req)));
  for (const m of (spec.accessModes ?? []) as string[]) s.add('kube_persistentvolumeclaim_access_mode', { ...base, access_mode: m }, 1);
  return s.out;
}

export function pvSamples(v: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const md = v.metadata ?? {};
  const base = { persistentvolume: md.name ?? '' };
  const spec = v.spec ?? {};
  s.add('kube_persistentvolume_created', base, epochSeconds(md.creationTimestamp));
  s.add('kube_persistentvolume_labels', { ...base, ...allowlisted(md.labels, opts.labelsAllowlist?.persistentvolumes, 'label') }, 1);
  if (spec.claimRef) s.add('kube_persistentvolume_claim_ref', { ...base, name: spec.claimRef.name ?? '', claim_namespace: spec.claimRef.namespace ?? '' }, 1);
  const phase = v.status?.phase;
  if (phase) for (const p of ['Pending', 'Available', 'Bound', 'Released', 'Failed']) s.add('kube_persistentvolume_status_phase', { ...base, phase: p }, phase === p ? 1 : 0);
  const cap = spec.capacity?.storage;
  if (cap !== undefined) s.add('kube_persistentvolume_capacity_bytes', base, Math.ceil(parseQuantity(cap)));
  s.add('kube_persistentvolume_info', {
    ...base,
    storageclass: spec.storageClassName ?? '',
    csi_driver: spec.csi?.driver ?? '',
    csi_volume_handle: spec.csi?.volumeHandle ?? '',
    local_path: spec.local?.path ?? '',
    host_path: spec.hostPath?.path ?? '',
    nfs_server: spec.nfs?.server ?? '',
    nfs_path: spec.nfs?.path ?? '',
  }, 1);
  if (spec.volumeMode) s.add('kube_persistentvolume_volume_mode', { ...base, volumemode: spec.volumeMode }, 1);
  return s.out;
}

export function serviceSamples(v: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const md = v.metadata ?? {};
  const base = { namespace: md.namespace ?? '', service: md.name ?? '', uid: md.uid ?? '' };
  const spec = v.spec ?? {};
  s.add('kube_service_created', base, epochSeconds(md.creationTimestamp));
  s.add('kube_service_labels', { ...base, ...allowlisted(md.labels, opts.labelsAllowlist?.services, 'label') }, 1);
  s.add('kube_service_info', {
    ...base,
    cluster_ip: spec.clusterIP ?? '',
    external_name: spec.externalName ?? '',
    load_balancer_ip: spec.loadBalancerIP ?? '',
  }, 1);
  if (spec.type) s.add('kube_service_spec_type', { ...base, type: spec.type }, 1);
  return s.out;
}
