export * from './common.js';
export { podSamples } from './pods.js';
export { nodeSamples, namespaceSamples } from './nodes.js';
export { deploymentSamples, replicaSetSamples, statefulSetSamples, daemonSetSamples, jobSamples, cronJobSamples, hpaSamples } from './workloads.js';
export { pvcSamples, pvSamples, serviceSamples } from './volumes.js';
