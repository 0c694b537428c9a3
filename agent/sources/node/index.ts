export { NodeSource, type NodeSourceOptions } from './node-source.js';
