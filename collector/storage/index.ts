export * from './interface.js';
export * from './matchers.js';
export { MemoryStorage } from './memory.js';
