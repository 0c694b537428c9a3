export { CgroupSource, type CgroupSourceOptions, type CgroupMode } from './cgroup-source.js';
export { detectCgroupLayout, CgroupLayoutError, type CgroupLayout } from './layout.js';
export { readCgroupStats, readCgroupFile, type CgroupStats, type FileReader } from './read-stats.js';
export { podUidFromDir, containerIdFromDir, isKubepodsDir } from './naming.js';
export { keepOpenReader, isCgroupFs, defaultKeepOpenBudget, type KeptFileReader } from './open-files.js';
