/**
 * Configuration loading shared by both programs, in the order Prometheus users expect:
 * built-in defaults, then the YAML file (`--config`), then `KUBEPULSE_*` environment
 * variables, then command-line flags. The merged result is validated against a JSON
 * Schema with `additionalProperties: false` and deep-frozen. Every problem is reported
 * at once with the key, the value and what was expected.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type { Ajv, ErrorObject } from 'ajv';
import { parseYaml } from './yaml-lazy.js';
import { ConfigError, errorMessage } from './errors.js';
import { parseDuration } from './duration.js';
import { LOG_LEVELS } from './log.js';

export type FlagType = 'string' | 'duration' | 'number' | 'boolean' | 'list';

/** One command-line flag and the config key it sets. */
export interface FlagSpec {
  /** Flag name without dashes, e.g. `collector-url`. */
  readonly flag: string;
  /** Dotted config key the flag sets, e.g. `shipper.url`; '' for flags that are not config. */
  readonly key: string;
  readonly type: FlagType;
  readonly help: string;
  /** Environment variable; defaults to the program's prefix + the flag upper-cased with `_`. */
  readonly env?: string;
}

/** `--config`: every program reads a YAML file first (flags and environment override it). */
export const CONFIG_FLAG: FlagSpec = { flag: 'config', key: 'config', type: 'string', help: 'YAML configuration file' };
/** `--log-level`, the same levels in both programs. */
export const LOG_LEVEL_FLAG: FlagSpec = { flag: 'log-level', key: 'log_level', type: 'string', help: `log level (${LOG_LEVELS.join(', ')})` };
/** `--help` and `--version`, last in every program's list. */
export const INFO_FLAGS: readonly FlagSpec[] = [
  { flag: 'help', key: '', type: 'boolean', help: 'print this help and exit' },
  { flag: 'version', key: '', type: 'boolean', help: 'print the version and exit' },
];

export interface LoadOptions {
  readonly program: string;
  /** Prefix of environment variables, e.g. `KUBEPULSE_AGENT_`. */
  readonly envPrefix: string;
  readonly schema: object;
  /** Complete defaults: every key the schema knows that has a default. */
  readonly defaults: object;
  readonly flags: readonly FlagSpec[];
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Loaded<T> {
  readonly config: T;
  /** Flags that are actions rather than config (`--help`, `--once`, …). */
  readonly actions: ReadonlySet<string>;
  readonly configFile?: string;
}

/** Environment variable name of a flag. */
export function envName(f: FlagSpec, prefix: string): string {
  return f.env ?? prefix + f.flag.toUpperCase().replace(/-/g, '_');
}

/**
 * Runs `fn` with an Ajv instance that has the config formats, then releases the modules
 * loaded for it. A program validates its configuration once at start (and at a reload):
 * keeping the validator resident would cost every agent memory for nothing (Ajv imported
 * alone adds about 4 MB of anonymous memory to a bare Node process: the import table of
 * test/bench/results/agent-rss.md), so Ajv is loaded through `require` and its cache
 * entries are dropped after use.
 */
function withAjv<T>(fn: (ajv: Ajv) => T): T {
  const req = createRequire(import.meta.url);
  const loadedBefore = new Set(Object.keys(req.cache));
  try {
    const { Ajv: AjvClass } = req('ajv') as typeof AjvModule;
    return fn(withFormats(new AjvClass({ allErrors: true, strict: true, useDefaults: false })));
  } finally {
    for (const k of Object.keys(req.cache)) if (!loadedBefore.has(k)) delete req.cache[k];
  }
}

function withFormats(ajv: Ajv): Ajv {
  ajv.addFormat('duration', {
    type: 'string',
    validate: (s: string) => {
      try {
        parseDuration(s);
        return true;
      } catch {
        return false;
      }
    },
  });
  ajv.addFormat('url', { type: 'string', validate: (s: string) => URL.canParse(s) });
  ajv.addFormat('listen-address', { type: 'string', validate: (s: string) => /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/.test(s) });
  return ajv;
}

/** Loads, merges and validates a program's configuration; throws ConfigError. */
export function loadConfig<T>(opts: LoadOptions): Loaded<T> {
  const problems: string[] = [];
  const merged = structuredClone(opts.defaults) as Record<string, unknown>;
  const byFlag = new Map(opts.flags.map((f) => [f.flag, f]));
  const actions = new Set<string>();

  // Flags are parsed first only to find --config and the actions; they are applied last.
  const flagValues: Array<[FlagSpec, string]> = [];
  const argv = opts.argv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument ${JSON.stringify(arg)}: flags start with --`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = byFlag.get(name) ?? (name.startsWith('no-') ? byFlag.get(name.slice(3)) : undefined);
    if (!spec) {
      problems.push(`unknown flag --${name} (see --help)`);
      continue;
    }
    let value: string;
    if (spec.type === 'boolean') {
      value = eq >= 0 ? arg.slice(eq + 1) : name.startsWith('no-') ? 'false' : 'true';
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else if (i + 1 < argv.length) {
      value = argv[++i];
    } else {
      problems.push(`flag --${name} needs a value (${spec.type})`);
      continue;
    }
    if (spec.key === '') {
      if (spec.type === 'boolean' && value === 'true') actions.add(spec.flag);
      else if (spec.type !== 'boolean') actions.add(`${spec.flag}=${value}`);
    } else {
      flagValues.push([spec, value]);
    }
  }

  const configFileFlag = flagValues.find(([f]) => f.flag === 'config');
  const configFile = configFileFlag?.[1] ?? opts.env[envName(byFlag.get('config') ?? { flag: 'config', key: '', type: 'string', help: '' }, opts.envPrefix)];
  if (configFile) {
    try {
      const text = readFileSync(configFile, 'utf8');
      const doc = parseYaml(text);
      if (doc !== null && doc !== undefined) {
        if (typeof doc !== 'object' || Array.isArray(doc)) {
          problems.push(`${configFile}: the top level must be a mapping of keys`);
        } else {
          deepMerge(merged, doc as Record<string, unknown>);
        }
      }
    } catch (err) {
      problems.push(`reading config file ${configFile}: ${errorMessage(err)}`);
    }
  }

  for (const f of opts.flags) {
    if (f.key === '' || f.flag === 'config') continue;
    const name = envName(f, opts.envPrefix);
    const v = opts.env[name];
    if (v !== undefined && v !== '') applyValue(merged, f, v, `environment variable ${name}`, problems);
  }
  for (const [f, v] of flagValues) {
    if (f.flag === 'config') continue;
    applyValue(merged, f, v, `flag --${f.flag}`, problems);
  }

  const schemaErrors = withAjv((ajv) => {
    const validate = ajv.compile(opts.schema);
    return validate(merged) ? [] : (validate.errors ?? []);
  });
  for (const e of schemaErrors) problems.push(describeSchemaError(e, merged, configFile));
  if (problems.length) throw new ConfigError(problems);
  return { config: deepFreeze(merged) as T, actions, configFile };
}

function applyValue(target: Record<string, unknown>, f: FlagSpec, raw: string, from: string, problems: string[]): void {
  let value: unknown = raw;
  switch (f.type) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) {
        problems.push(`${from}: ${JSON.stringify(raw)} is not a number`);
        return;
      }
      value = n;
      break;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') {
        problems.push(`${from}: ${JSON.stringify(raw)} is not a boolean (expected true or false)`);
        return;
      }
      value = raw === 'true';
      break;
    case 'list':
      value = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      break;
    default:
      break;
  }
  setPath(target, f.key.split('.'), value);
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i]];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[path[i]] = {};
    cur = cur[path[i]] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

function deepMerge(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t)) {
      deepMerge(t as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      target[k] = v;
    }
  }
}

function describeSchemaError(e: ErrorObject, doc: unknown, file?: string): string {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const where = file ? `${file}: ` : '';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const key = [...path, extra].join('.');
    return `${where}unknown key "${key}"`;
  }
  const key = path.join('.') || '(top level)';
  let value: unknown = doc;
  for (const p of path) value = (value as Record<string, unknown> | undefined)?.[p];
  let expected = e.message ?? 'a valid value';
  if (e.keyword === 'format') expected = `a ${(e.params as { format: string }).format}`;
  if (e.keyword === 'enum') expected = `one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'type') expected = `a value of type ${(e.params as { type: string }).type}`;
  return `${where}key "${key}": value ${JSON.stringify(value)} is invalid: expected ${expected}`;
}

/** Deep-freezes a plain object tree and returns it. */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** `--help` text: every flag with its default and environment variable. */
export function helpText(program: string, summary: string, flags: readonly FlagSpec[], defaults: object, envPrefix: string): string {
  const lines = [`usage: ${program} [flags]`, '', summary, '', 'flags:'];
  for (const f of flags) {
    let def: unknown = f.key ? f.key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults) : undefined;
    if (Array.isArray(def)) def = def.join(',');
    const defStr = def === undefined || def === '' ? '' : ` (default ${typeof def === 'string' ? def : JSON.stringify(def)})`;
    const arg = f.type === 'boolean' ? '' : ` <${f.type}>`;
    lines.push(`  --${f.flag}${arg}`);
    lines.push(`      ${f.help}${defStr}${f.key ? `. env: ${envName(f, envPrefix)}` : ''}`);
  }
  return lines.join('\n') + '\n';
}
