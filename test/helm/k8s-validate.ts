/**
 * Validates rendered manifests against the Kubernetes API schemas (the `kubernetes-models`
 * package, generated from the Kubernetes OpenAPI spec). The Prometheus Operator kinds are
 * not in that package: they are checked against the fields of their CRDs that the chart
 * uses, with closed objects so a misspelt field fails.
 */
import { Ajv } from 'ajv';

interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: unknown) => Validatable;

const modelCache = new Map<string, ModelCtor>();

async function model(apiVersion: string, kind: string): Promise<ModelCtor> {
  const key = `${apiVersion}/${kind}`;
  const cached = modelCache.get(key);
  if (cached) return cached;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`no Kubernetes schema for ${apiVersion} ${kind} in kubernetes-models`, { cause: err });
  }
  const ctor = mod[kind] as ModelCtor | undefined;
  if (typeof ctor !== 'function') throw new Error(`kubernetes-models/${apiVersion}/${kind} does not export ${kind}`);
  modelCache.set(key, ctor);
  return ctor;
}

const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: str };
const metadata = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'namespace'],
  properties: { name: str, namespace: str, labels: strMap, annotations: strMap },
};
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: { matchLabels: strMap, matchExpressions: { type: 'array' } },
};

// Field names from the monitoring.coreos.com/v1 CRDs (prometheus-operator
// Documentation/api-reference/api.md), restricted to what the chart may emit.
const CRD_SCHEMAS: Record<string, object> = {
  'monitoring.coreos.com/v1/ServiceMonitor': {
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: str,
      kind: str,
      metadata,
      spec: {
        type: 'object',
        additionalProperties: false,
        required: ['selector', 'endpoints'],
        properties: {
          selector: labelSelector,
          namespaceSelector: { type: 'object', additionalProperties: false, properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } } },
          endpoints: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                port: str,
                path: str,
                honorLabels: { type: 'boolean' },
                interval: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
                scrapeTimeout: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
              },
            },
          },
        },
      },
    },
  },
  'monitoring.coreos.com/v1/PrometheusRule': {
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: str,
      kind: str,
      metadata,
      spec: {
        type: 'object',
        additionalProperties: false,
        properties: {
          groups: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'rules'],
              properties: {
                name: str,
                interval: str,
                rules: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['expr'],
                    properties: { alert: str, record: str, expr: str, for: str, labels: strMap, annotations: strMap },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const crdValidators = new Map(Object.entries(CRD_SCHEMAS).map(([k, s]) => [k, ajv.compile(s)]));

/**
 * Validates one manifest; resolves, or rejects with an error naming the kind, the name and
 * every schema violation.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function validateManifest(obj: any): Promise<void> {
  const { apiVersion, kind } = obj ?? {};
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new Error(`manifest without apiVersion/kind: ${JSON.stringify(obj).slice(0, 200)}`);
  const what = `${kind} ${obj.metadata?.name ?? '(no name)'}`;
  const crd = crdValidators.get(`${apiVersion}/${kind}`);
  if (crd) {
    if (!crd(obj)) throw new Error(`${what}: ${ajv.errorsText(crd.errors)}`);
    return;
  }
  const Ctor = await model(apiVersion, kind);
  try {
    new Ctor(obj).validate();
  } catch (err) {
    throw new Error(`${what} does not validate against ${apiVersion} ${kind}: ${(err as Error).message}`, { cause: err });
  }
}

/** Kinds that are not namespaced among those the chart renders. */
export const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'PersistentVolume']);
