/**
 * Rules: rule files, alert states, recording rules, history, HTTP API.
 */
export type { QueryFunc, Vector, VectorSample, ExprValidator, NotifyFunc } from './types.js';
export { AlertingRule, AlertState, RESOLVED_RETENTION_MS } from './alerting-rule.js';
export type { ActiveAlert, AlertTransition } from './alerting-rule.js';
export { RecordingRule } from './recording-rule.js';
export { Group } from './group.js';
export { RuleManager } from './manager.js';
export type { RuleManagerOptions, RulesConfig } from './manager.js';
export { parseRuleFile, loadRuleFile, loadRuleFiles, expandRulePaths, RuleLoadError } from './rule-file.js';
export type { GroupSpec, RuleSpec } from './rule-file.js';
export { Template, TemplateError } from './template.js';
export { lezerExprValidator } from './lezer-validator.js';
export { AlertHistory } from './history.js';
export type { HistoryEpisode, HistoryQuery } from './history.js';
export { rulesApiPlugin } from './api.js';
export type { RulesApiOptions } from './api.js';
export { defaultRuleGroups, DEFAULT_RULE_NAMES } from './default-rules/index.js';
