/**
 * The kubelet source against the fake kubelet (real HTTPS with an openssl-made CA, bearer
 * token): success, TLS failures named precisely, each error mode counted with its reason,
 * the rest of the tick still shipping, and stale markers through the real Sampler.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../agent/metrics-registry.js';
import { getLabel, isStaleNaN } from '../../shared/index.js';
import { Sampler } from '../../agent/sampler.js';
import type { Source } from '../../agent/sources/source.js';
import { KubeletSource, registerKubeletMetrics, KubeletError } from '../../agent/sources/kubelet/index.js';
import { KubeletClient } from '../../agent/sources/kubelet/kubelet-client.js';
import { startFakeKubelet, type FakeKubelet } from '../fakes/fake-kubelet.js';
import { fixture } from '../helpers/paths.js';
import { RecordingContext, RecordingSink } from './helpers.js';

const SUMMARY = readFileSync(fixture('kubelet-summary/nri-kubernetes/k8s-1.34/stats-summary.json'), 'utf8');

describe('kubelet source over HTTPS', () => {
  let k: FakeKubelet;
  beforeAll(async () => {
    k = await startFakeKubelet({ summary: SUMMARY });
  });
  afterAll(async () => {
    await k.close();
  });

  it('fetches with the token, verifies against the cluster CA and emits the summary', async () => {
    const registry = new Registry();
    const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile, caFile: k.caFile }, metrics: registerKubeletMetrics(registry) });
    const sink = new RecordingSink();
    const ctx = new RecordingContext();
    await src.collect(sink, ctx);
    expect(ctx.errors).toEqual([]);
    expect(sink.named('container_cpu_usage_seconds_total').length).toBeGreaterThan(10);
    expect(src.targetLabels).toEqual({ job: 'kubelet', metrics_path: '/metrics/cadvisor' });
    expect(await registry.getSingleMetricAsString('kubepulse_agent_kubelet_up')).toMatch(/kubepulse_agent_kubelet_up 1$/m);
  });

  it('says which address, which name and which CA when verification fails, and sets up 0 with the reason', async () => {
    const registry = new Registry();
    const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile, caFile: k.otherCaFile }, metrics: registerKubeletMetrics(registry) });
    const ctx = new RecordingContext();
    await src.collect(new RecordingSink(), ctx);
    expect(ctx.reasons()).toEqual(['tls_verify']);
    const msg = (ctx.errors[0].err as Error).message;
    expect(msg).toContain(`127.0.0.1:${k.port}`);
    expect(msg).toContain('"127.0.0.1"');
    expect(msg).toContain(k.otherCaFile);
    expect(msg).toContain('CN=fake-node');
    expect(msg).toContain('issued by CN=fake-cluster-ca');
    expect(msg).toContain('--kubelet-insecure-skip-verify');
    expect(await registry.getSingleMetricAsString('kubepulse_agent_kubelet_up')).toMatch(/kubepulse_agent_kubelet_up 0$/m);
    expect(await registry.getSingleMetricAsString('kubepulse_agent_kubelet_failure')).toMatch(/kubepulse_agent_kubelet_failure\{reason="tls_verify"\} 1/);
    expect(src.status()).toMatchObject({ up: false, reason: 'tls_verify' });
  });

  it('fails on a name the certificate does not carry', async () => {
    const other = await startFakeKubelet({ summary: SUMMARY, san: 'DNS:node-7.example' });
    try {
      const src = new KubeletSource({ kubelet: { url: other.url, tokenFile: other.tokenFile, caFile: other.caFile } });
      const ctx = new RecordingContext();
      await src.collect(new RecordingSink(), ctx);
      expect(ctx.reasons()).toEqual(['tls_verify']);
      const msg = (ctx.errors[0].err as Error).message;
      expect(msg).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
      expect(msg).toContain('SANs: DNS:node-7.example');
    } finally {
      await other.close();
    }
  });

  it('accepts any certificate with insecureSkipVerify', async () => {
    const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile, caFile: k.otherCaFile, insecureSkipVerify: true } });
    const ctx = new RecordingContext();
    const sink = new RecordingSink();
    await src.collect(sink, ctx);
    expect(ctx.errors).toEqual([]);
    expect(sink.samples.length).toBeGreaterThan(100);
  });

  it('refuses a bad URL at construction', () => {
    expect(() => new KubeletClient({ url: 'ftp://x' })).toThrow(/must be http/);
    expect(() => new KubeletClient({ url: 'not a url' })).toThrow(/is not a URL/);
  });
});

describe('kubelet error modes', () => {
  let k: FakeKubelet;
  beforeAll(async () => {
    k = await startFakeKubelet({ summary: SUMMARY, tls: false });
  });
  afterAll(async () => {
    await k.close();
  });

  it.each([
    { mode: 'timeout' as const, reason: 'timeout', text: /did not answer within 300 ms/ },
    { mode: 'unauthorized' as const, reason: 'unauthorized', text: /401 Unauthorized.*token/ },
    { mode: 'forbidden' as const, reason: 'forbidden', text: /"get" on resource "nodes\/stats"/ },
    { mode: 'malformed' as const, reason: 'malformed_json', text: /malformed JSON/ },
    { mode: 'not_a_summary' as const, reason: 'malformed_summary', text: /not a stats summary/ },
    { mode: 'server_error' as const, reason: 'http_status', text: /HTTP 500/ },
  ])('$mode is counted as $reason and the rest of the tick ships', async ({ mode, reason, text }) => {
    k.setMode(mode);
    try {
      const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile, timeoutMs: 300 } });
      const other: Source = { name: 'other', targetLabels: { job: 'x' }, collect: (s) => s.add('other_metric', {}, 1) };
      const reasons: string[] = [];
      const sampler = new Sampler({
        sources: [src, other],
        baseLabels: { node: 'n1' },
        intervalMs: 10_000,
        metrics: { tickDuration() {}, sourceDuration() {}, deadlineExceeded() {}, sourceError: (s, r) => reasons.push(`${s}/${r}`) },
      });
      const batch = await sampler.tick();
      expect(reasons).toEqual([`kubelet/${reason}`]);
      expect(batch.series.map((s) => getLabel(s.labels, '__name__'))).toEqual(['other_metric']);
      expect(src.status().message).toMatch(text);
    } finally {
      k.setMode('ok');
    }
  });

  it('gives up at the tick deadline and closes the request', async () => {
    k.setMode('timeout');
    try {
      const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile, timeoutMs: 60_000 } });
      const reasons: string[] = [];
      const sampler = new Sampler({
        sources: [src],
        baseLabels: {},
        intervalMs: 10_000,
        deadlineMs: 200,
        metrics: { tickDuration() {}, sourceDuration() {}, deadlineExceeded() {}, sourceError: (s, r) => reasons.push(r) },
      });
      await sampler.tick();
      // The abort reaches the client right after the deadline fires.
      for (let i = 0; i < 50 && src.status().reason !== 'timeout'; i++) await new Promise((r) => setTimeout(r, 10));
      expect(reasons[0]).toBe('deadline_exceeded');
      expect(src.status()).toMatchObject({ up: false, reason: 'timeout' });
      expect(src.status().message).toMatch(/deadline passed/);
    } finally {
      k.setMode('ok');
    }
  });

  it('keeps a path prefix (the API server node proxy)', () => {
    const c = new KubeletClient({ url: 'https://10.96.0.1:443/api/v1/nodes/node-1/proxy/' });
    expect(c.summaryUrl).toBe('https://10.96.0.1/api/v1/nodes/node-1/proxy/stats/summary');
  });

  it('reports a missing token file as token_read', async () => {
    const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: '/nonexistent/token' } });
    const ctx = new RecordingContext();
    await src.collect(new RecordingSink(), ctx);
    expect(ctx.reasons()).toEqual(['token_read']);
  });

  it('reports a refused connection as connect', async () => {
    const src = new KubeletSource({ kubelet: { url: 'http://127.0.0.1:1', tokenFile: k.tokenFile } });
    const ctx = new RecordingContext();
    await src.collect(new RecordingSink(), ctx);
    expect(ctx.reasons()).toEqual(['connect']);
    expect(ctx.errors[0].err).toBeInstanceOf(KubeletError);
  });
});

describe('pods coming and going, through the Sampler', () => {
  let k: FakeKubelet;
  beforeAll(async () => {
    k = await startFakeKubelet({ summary: SUMMARY, tls: false });
  });
  afterAll(async () => {
    await k.close();
  });

  it('new pods appear on the next tick; removed pods get stale markers once', async () => {
    const full = JSON.parse(SUMMARY);
    const [gone, ...rest] = full.pods;
    k.setSummary(JSON.stringify({ ...full, pods: rest }));
    let now = 1_000_000;
    const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile } });
    const sampler = new Sampler({ sources: [src], baseLabels: { node: 'n1', cluster: 'c' }, intervalMs: 10_000, now: () => now });
    const podsIn = (b: Awaited<ReturnType<Sampler['tick']>>, stale: boolean) =>
      new Set(b.series.filter((s) => s.samples.some((x) => isStaleNaN(x.v) === stale)).map((s) => getLabel(s.labels, 'pod')));

    const b1 = await sampler.tick();
    expect(podsIn(b1, false).has(gone.podRef.name)).toBe(false);
    for (const s of b1.series) {
      expect(getLabel(s.labels, 'job')).toBe('kubelet');
      expect(getLabel(s.labels, 'node')).toBe('n1');
    }

    now += 10_000;
    k.setSummary(SUMMARY);
    const b2 = await sampler.tick();
    expect(podsIn(b2, false).has(gone.podRef.name)).toBe(true);
    expect(podsIn(b2, true).size).toBe(0);

    now += 10_000;
    k.setSummary(JSON.stringify({ ...full, pods: rest }));
    const b3 = await sampler.tick();
    expect([...podsIn(b3, true)]).toEqual([gone.podRef.name]);
    const staleSeries = b3.series.filter((s) => isStaleNaN(s.samples[0].v));
    expect(staleSeries.every((s) => s.samples[0].t === now)).toBe(true);
    // Volume series of a PVC-less pod are absent, so every stale series is a container_* one.
    expect(staleSeries.length).toBeGreaterThan(5);

    now += 10_000;
    const b4 = await sampler.tick();
    expect(podsIn(b4, true).size).toBe(0);
  });
});
