/**
 * The agent-rss bench's cluster side, run in a Node process of its own so that none of
 * its memory is counted as the agent's: the fake kubelet (HTTPS, bearer token, its own
 * CA) serving the generated node's `/stats/summary`, and the fake API server (plain HTTP,
 * bearer token required) holding the generated node's pods.
 *
 * Usage (compiled with tsc, as the bench does): `node fakes.js <summary.json> <pods.json>`.
 * Prints one JSON line {@link FakesInfo} on stdout when both listen; a side port answers
 * `GET /` with {@link FakesStats}. Exits when stdin ends (the bench closes it).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeKubelet } from '../../fakes/fake-kubelet.js';
import { FakeApiServer, type KubeObject } from '../../fakes/fake-apiserver.js';

/** What the bench needs to point the agent at the fakes. */
export interface FakesInfo {
  kubeletUrl: string;
  kubeletCaFile: string;
  kubeletTokenFile: string;
  apiUrl: string;
  apiToken: string;
  statsUrl: string;
}

/** Request counts the bench checks, so that a run where the agent never reached a fake fails. */
export interface FakesStats {
  summaryRequests: number;
  /** Pod list requests (not watches) carrying `fieldSelector=spec.nodeName=<node>`. */
  podLists: number;
  /** Pod watch requests with the same selector. */
  podWatches: number;
  /** Pod requests without the node's field selector (the agent must not make them). */
  unscopedPodRequests: number;
  openWatches: number;
}

async function main(): Promise<void> {
  const [summaryFile, podsFile, nodeName] = process.argv.slice(2);
  if (!summaryFile || !podsFile || !nodeName) throw new Error('usage: fakes.js <summary.json> <pods.json> <node-name>');
  const kubelet = await startFakeKubelet({ summary: readFileSync(summaryFile, 'utf8') });
  const apiToken = `bench-${Math.random().toString(36).slice(2)}`;
  const api = await FakeApiServer.start({ requireAuth: true, tokens: { [apiToken]: { username: 'system:serviceaccount:kubepulse:kubepulse-agent' } } });
  // The generated pods carry no type meta (as items of a PodList); the store needs it.
  const pods = JSON.parse(readFileSync(podsFile, 'utf8')) as KubeObject[];
  api.addAll(pods.map((p) => ({ apiVersion: 'v1', kind: 'Pod', ...p })));

  const selector = `spec.nodeName=${nodeName}`;
  const stats = (): FakesStats => {
    const s: FakesStats = { summaryRequests: kubelet.requests.get('/stats/summary') ?? 0, podLists: 0, podWatches: 0, unscopedPodRequests: 0, openWatches: api.openWatches };
    for (const r of api.requests) {
      if (!/\/pods$/.test(r.path)) continue;
      if (r.query.fieldSelector !== selector) s.unscopedPodRequests++;
      else if (r.watch) s.podWatches++;
      else s.podLists++;
    }
    return s;
  };
  const side = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(stats())));
  await new Promise<void>((resolve) => side.listen(0, '127.0.0.1', resolve));
  const info: FakesInfo = {
    kubeletUrl: kubelet.url,
    kubeletCaFile: kubelet.caFile,
    kubeletTokenFile: kubelet.tokenFile,
    apiUrl: api.url,
    apiToken,
    statsUrl: `http://127.0.0.1:${(side.address() as AddressInfo).port}/`,
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    side.close();
    void Promise.all([kubelet.close(), api.close()]).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`agent-rss fakes: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
