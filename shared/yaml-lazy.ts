/**
 * YAML parsing, with the `yaml` package loaded on first use. The agent in a DaemonSet
 * is configured by flags and reads no YAML at all (in-cluster config is two files), and
 * every module it loads stays resident on every node; the collector reads YAML anyway.
 */
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';

let yaml: typeof YamlModule | undefined;

/** `YAML.parse` of the `yaml` package (YAML 1.2, core schema). */
export function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof YamlModule;
  return yaml.parse(text);
}
