export { PodStore, podInfoFromPod, stripContainerIdScheme, type PodIndex, type PodInfo, type ContainerInfo, type ContainerRef } from './pod-index.js';
export { PodWatcher, type PodWatcherOptions, type PodWatcherMetrics } from './pod-watcher.js';
