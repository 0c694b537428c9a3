/**
 * PromQL: parser, engine and the rules engine's query function.
 */
export * from './ast.js';
export { ParseError, parseExpr, parseSeriesSelector, documentedType } from './parser.js';
export { Engine } from './engine.js';
export type { EngineOptions, QueryOptions } from './engine.js';
export * from './value.js';
export { engineQueryFunc } from './query-func.js';
export type { QueryFunc } from './query-func.js';
