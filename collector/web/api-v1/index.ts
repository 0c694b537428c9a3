export { queryApiPlugin } from './query-api-plugin.js';
export type { BuildInfo, QueryApiPluginOptions } from './query-api-plugin.js';
export { parseDurationParam, parseTimeParam } from './params.js';
export { encodeQueryValue } from './encode.js';
export type { ApiQueryData, ApiPoint } from './encode.js';
