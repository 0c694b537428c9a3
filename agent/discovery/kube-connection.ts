/**
 * Where the Kubernetes API server is and how to authenticate to it, for the agent's one
 * pod watch. The agent does not import `@kubernetes/client-node` for this: merely loading
 * it adds 55–60 MB of RSS to a bare Node process (its generated models; the import table
 * of test/bench/results/agent-rss.md), more than the agent needs for everything else on a
 * 110-pod node. In-cluster config (the DaemonSet's case)
 * and plain kubeconfigs (token, token file, client certificate, basic auth) are read
 * here; only a kubeconfig whose user runs an `exec` plugin or an `auth-provider` loads
 * client-node, lazily, to let it produce the credentials as kubectl would.
 */
import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { dirname, isAbsolute, resolve } from 'node:path';
import { KubepulseError, errorMessage, parseYaml } from '../../shared/index.js';

/** The files every pod's service account mounts. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Everything a request to the API server needs. */
export interface KubeConnection {
  /** Base URL, e.g. `https://10.96.0.1:443`; paths are appended to it. */
  readonly server: string;
  /** PEM of the CA(s) that sign the API server's certificate; undefined: the system roots. */
  readonly ca?: Buffer;
  /** Client certificate and key (PEM), when the user authenticates with one. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Name to verify the server certificate against, when it differs from the URL's host. */
  readonly servername?: string;
  readonly insecureSkipVerify: boolean;
  /** Where the settings came from, for log lines and errors (`in-cluster`, a kubeconfig path). */
  readonly source: string;
  /**
   * Headers that authenticate one request. Called per request: projected service-account
   * tokens are rotated by the kubelet (hourly) and must be re-read, not cached.
   */
  authHeaders(): Promise<OutgoingHttpHeaders>;
}

/**
 * The in-cluster connection: `KUBERNETES_SERVICE_HOST`/`_PORT`, the service account's
 * token and CA. Throws naming the missing variable or file.
 */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, saDir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  if (!host) throw new KubepulseError('KP_ERR_CONFIG', 'not in a cluster: KUBERNETES_SERVICE_HOST is not set (give --kubeconfig, or --kube-api off)');
  const tokenFile = `${saDir}/token`;
  const caFile = `${saDir}/ca.crt`;
  const ca = readRequired(caFile, 'the service-account CA');
  readRequired(tokenFile, 'the service-account token');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca,
    insecureSkipVerify: false,
    source: 'in-cluster',
    authHeaders: async () => bearer(readFileSync(tokenFile, 'utf8')),
  };
}

/** The parts of a kubeconfig this module reads (https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/). */
interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Array<{ name?: string; cluster?: KubeconfigCluster }>;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
  users?: Array<{ name?: string; user?: KubeconfigUser }>;
}
interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}
interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}

/**
 * The connection of a kubeconfig file's current context. Relative file paths in it are
 * resolved against the file's directory, as kubectl does. Throws naming the file and the
 * missing or malformed entry.
 */
export async function kubeconfigConnection(file: string): Promise<KubeConnection> {
  let doc: KubeconfigFile;
  try {
    doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile;
  } catch (err) {
    throw new KubepulseError('KP_ERR_CONFIG', `--kubeconfig ${file}: cannot read it: ${errorMessage(err)}`);
  }
  const fail = (what: string) => new KubepulseError('KP_ERR_CONFIG', `--kubeconfig ${file}: ${what}`);
  const ctxName = doc['current-context'];
  if (!ctxName) throw fail('no current-context is set');
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw fail(`current-context "${ctxName}" is not among its contexts`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw fail(`context "${ctxName}" names cluster "${ctx.cluster ?? ''}", which it does not define`);
  if (!cluster.server) throw fail(`cluster "${ctx.cluster}" has no server`);
  const user: KubeconfigUser = (ctx.user ? doc.users?.find((u) => u.name === ctx.user)?.user : undefined) ?? {};
  const dir = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const pem = (data: string | undefined, ref: string | undefined, what: string): Buffer | undefined => {
    if (data) return Buffer.from(data, 'base64');
    if (ref) return readRequired(path(ref), `${what} of the kubeconfig ${file}`);
    return undefined;
  };
  const base = {
    server: cluster.server.replace(/\/+$/, ''),
    ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority'], 'the certificate authority'),
    servername: cluster['tls-server-name'] || undefined,
    insecureSkipVerify: cluster['insecure-skip-tls-verify'] === true,
    source: file,
  };
  if (user.exec || user['auth-provider']) return { ...base, authHeaders: await clientNodeAuth(file) };
  const cert = pem(user['client-certificate-data'], user['client-certificate'], 'the client certificate');
  const key = pem(user['client-key-data'], user['client-key'], 'the client key');
  if (!cert !== !key) throw fail(`user "${ctx.user}" has a client certificate or a client key but not both`);
  let authHeaders: () => Promise<OutgoingHttpHeaders> = async () => ({});
  if (user.token) {
    const h = bearer(user.token);
    authHeaders = async () => h;
  } else if (user.tokenFile) {
    const f = path(user.tokenFile);
    readRequired(f, `the token file of the kubeconfig ${file}`);
    authHeaders = async () => bearer(readFileSync(f, 'utf8'));
  } else if (user.username !== undefined) {
    const h = { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` };
    authHeaders = async () => h;
  }
  return { ...base, cert, key, authHeaders };
}

/**
 * Credentials from an exec plugin or auth provider, produced by client-node as kubectl
 * would (it caches and refreshes them). Loaded only here, so in-cluster agents never pay for it.
 */
async function clientNodeAuth(file: string): Promise<() => Promise<OutgoingHttpHeaders>> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return async () => {
    const opts: { headers?: OutgoingHttpHeaders } = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    const auth = opts.headers?.Authorization ?? opts.headers?.authorization;
    return auth ? { authorization: String(auth) } : {};
  };
}

function bearer(token: string): OutgoingHttpHeaders {
  const t = token.trim();
  return t ? { authorization: `Bearer ${t}` } : {};
}

function readRequired(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new KubepulseError('KP_ERR_CONFIG', `cannot read ${what} (${file}): ${errorMessage(err)}`);
  }
}
