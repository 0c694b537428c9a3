/**
 * The default rule pack as rule groups, filtered by the `default_rules` config switches.
 */
import { parseRuleFile, RuleLoadError, type GroupSpec } from '../rule-file.js';
import { lezerExprValidator } from '../lezer-validator.js';
import type { ExprValidator } from '../types.js';
import { DEFAULT_RULES_YAML } from './pack.js';

/** The pseudo file name of the pack in `/api/v1/rules` and errors. */
export const DEFAULT_RULES_FILE = '<kubepulse default rules>';

/** Every alert name of the pack (each a switch under `default_rules.rules`). */
export const DEFAULT_RULE_NAMES: readonly string[] = [...DEFAULT_RULES_YAML.matchAll(/^ {2}- alert: (\S+)$/gm)].map((m) => m[1]);

export interface DefaultRulesConfig {
  /** All default rules on or off (default on). */
  readonly enabled?: boolean;
  /** Per-rule switches by alert name; absent means on. */
  readonly rules?: Readonly<Record<string, boolean>>;
}

/**
 * The enabled default groups. Throws on an unknown rule name in the switches (a typo must
 * not silently leave a rule on) or when the pack itself does not validate.
 */
export function defaultRuleGroups(cfg: DefaultRulesConfig = {}, validate: ExprValidator = lezerExprValidator): GroupSpec[] {
  const unknown = Object.keys(cfg.rules ?? {}).filter((n) => !DEFAULT_RULE_NAMES.includes(n));
  if (unknown.length) {
    throw new RuleLoadError(unknown.map((n) => `default_rules.rules.${n}: no default rule has this name (known: ${DEFAULT_RULE_NAMES.join(', ')})`));
  }
  if (cfg.enabled === false) return [];
  const { groups, problems } = parseRuleFile(DEFAULT_RULES_FILE, DEFAULT_RULES_YAML, validate);
  if (problems.length) throw new RuleLoadError(problems);
  return groups
    .map((g) => ({ ...g, rules: g.rules.filter((r) => cfg.rules?.[r.name] !== false) }))
    .filter((g) => g.rules.length > 0);
}
