export { NodeSource, NODE_COLLECTORS, type NodeSourceOptions, type NodeCollectorName } from './node-source.js';
export { DEFAULT_DISK_EXCLUDE, type DiskstatsOptions } from './diskstats.js';
export { DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE, type FilesystemOptions } from './filesystem.js';
export { DEFAULT_NETSTAT_FIELDS } from './netstat.js';
export { DEFAULT_VMSTAT_FIELDS } from './vmstat.js';
export type { NetDevOptions } from './netdev.js';
export type { NetClassOptions } from './netclass.js';
