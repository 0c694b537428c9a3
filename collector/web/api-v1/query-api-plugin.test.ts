import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelsFromObject, STALE_NAN } from '../../../shared/index.js';
import { MemoryStorage } from '../../storage/index.js';
import { Engine } from '../../promql/index.js';
import { queryApiPlugin } from './query-api-plugin.js';
import { parseDurationParam, parseTimeParam } from './params.js';

const T0 = 1_700_000_000_000;

describe('query API plugin', () => {
  let app: FastifyInstance;
  const store = new MemoryStorage();

  beforeAll(async () => {
    for (let i = 0; i <= 20; i++) {
      const t = T0 + i * 15_000;
      store.add(labelsFromObject({ __name__: 'up', job: 'node', instance: 'a' }), t, 1);
      store.add(labelsFromObject({ __name__: 'up', job: 'node', instance: 'b' }), t, i < 10 ? 1 : 0);
      store.add(labelsFromObject({ __name__: 'reqs_total', job: 'api', code: '200' }), t, i * 10);
    }
    store.add(labelsFromObject({ __name__: 'gone', job: 'x' }), T0, 5);
    store.add(labelsFromObject({ __name__: 'gone', job: 'x' }), T0 + 15_000, STALE_NAN);
    const app0 = store.appender();
    app0.updateMetadata({ metric: 'up', type: 'gauge', help: 'Target is up.', unit: '' });
    app0.commit();
    app = Fastify();
    await app.register(queryApiPlugin, {
      engine: new Engine({ timeoutMs: 10_000 }),
      queryable: store,
      headReader: store,
      buildInfo: { version: '0.1.0', revision: 'abc', branch: 'main', buildUser: 'test', buildDate: '20260101', goVersion: 'node' },
      now: () => T0 + 300_000,
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers an instant query with the vector envelope (GET)', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/query', query: { query: 'up', time: String((T0 + 300_000) / 1000) } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'success',
      data: {
        resultType: 'vector',
        result: [
          { metric: { __name__: 'up', instance: 'a', job: 'node' }, value: [(T0 + 300_000) / 1000, '1'] },
          { metric: { __name__: 'up', instance: 'b', job: 'node' }, value: [(T0 + 300_000) / 1000, '0'] },
        ],
      },
    });
  });

  it('defaults time to now and accepts form-encoded POST', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/query',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'query=sum%28up%29',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [(T0 + 300_000) / 1000, '1'] }] });
  });

  it('encodes scalars, strings, NaN and Inf like Prometheus', async () => {
    const q = async (query: string) =>
      (await app.inject({ method: 'GET', url: '/api/v1/query', query: { query, time: '100' } })).json().data;
    expect(await q('1/0')).toEqual({ resultType: 'scalar', result: [100, '+Inf'] });
    expect(await q('-1/0')).toEqual({ resultType: 'scalar', result: [100, '-Inf'] });
    expect(await q('0/0')).toEqual({ resultType: 'scalar', result: [100, 'NaN'] });
    expect(await q('1e21')).toEqual({ resultType: 'scalar', result: [100, '1000000000000000000000'] });
    expect(await q('"hi"')).toEqual({ resultType: 'string', result: [100, 'hi'] });
  });

  it('answers a range query with a matrix sorted by labels (RFC 3339 times, duration step)', async () => {
    const start = new Date(T0 + 60_000).toISOString();
    const end = new Date(T0 + 120_000).toISOString();
    const res = await app.inject({ method: 'GET', url: '/api/v1/query_range', query: { query: 'rate(reqs_total[1m])', start, end, step: '30s' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.data.resultType).toBe('matrix');
    expect(body.data.result).toEqual([
      {
        metric: { code: '200', job: 'api' },
        values: [
          [(T0 + 60_000) / 1000, expect.any(String)],
          [(T0 + 90_000) / 1000, expect.any(String)],
          [(T0 + 120_000) / 1000, expect.any(String)],
        ],
      },
    ]);
    for (const [, v] of body.data.result[0].values) expect(Number(v)).toBeCloseTo(10 / 15, 9);
  });

  it.each([
    { name: 'syntax error', url: '/api/v1/query', query: { query: 'sum(' }, status: 400, type: 'bad_data', msg: /invalid parameter "query": 1:5: parse error/ },
    { name: 'unknown function', url: '/api/v1/query', query: { query: 'foo(up)' }, status: 400, type: 'bad_data', msg: /unknown function with name "foo"/ },
    { name: 'wrong argument type', url: '/api/v1/query', query: { query: 'rate(up)' }, status: 400, type: 'bad_data', msg: /expected type range vector/ },
    { name: 'bad time', url: '/api/v1/query', query: { query: 'up', time: 'yesterday' }, status: 400, type: 'bad_data', msg: /invalid parameter "time": cannot parse "yesterday" to a valid timestamp/ },
    { name: 'many-to-many', url: '/api/v1/query', query: { query: 'up + on(job) up', time: String((T0 + 60_000) / 1000) }, status: 422, type: 'execution', msg: /many-to-many matching not allowed/ },
    { name: 'step=0', url: '/api/v1/query_range', query: { query: 'up', start: '1', end: '2', step: '0' }, status: 400, type: 'bad_data', msg: /zero or negative query resolution step/ },
    { name: 'start>end', url: '/api/v1/query_range', query: { query: 'up', start: '20', end: '10', step: '1' }, status: 400, type: 'bad_data', msg: /end timestamp must not be before start time/ },
    { name: 'too many points', url: '/api/v1/query_range', query: { query: 'up', start: '0', end: '100000', step: '1' }, status: 400, type: 'bad_data', msg: /exceeded maximum resolution of 11,000 points per timeseries/ },
    { name: 'bad step', url: '/api/v1/query_range', query: { query: 'up', start: '0', end: '10', step: 'x' }, status: 400, type: 'bad_data', msg: /invalid parameter "step"/ },
    { name: 'matrix range query', url: '/api/v1/query_range', query: { query: 'up[5m]', start: '0', end: '10', step: '1' }, status: 400, type: 'bad_data', msg: /invalid expression type "range vector" for range query/ },
    { name: 'series without match[]', url: '/api/v1/series', query: {}, status: 400, type: 'bad_data', msg: /no match\[\] parameter provided/ },
    { name: 'bad label name', url: '/api/v1/label/0bad/values', query: {}, status: 400, type: 'bad_data', msg: /invalid label name/ },
  ])('$name → $status $type', async ({ url, query, status, type, msg }) => {
    const res = await app.inject({ method: 'GET', url, query: query as Record<string, string> });
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.status).toBe('error');
    expect(body.errorType).toBe(type);
    expect(body.error).toMatch(msg);
  });

  it('times out with errorType timeout (503)', async () => {
    const slowApp = Fastify();
    let clock = 0;
    await slowApp.register(queryApiPlugin, {
      // Every clock read advances 1 s: the first step check is past the 1 ms deadline.
      engine: new Engine({ timeoutMs: 1, now: () => (clock += 1000) }),
      queryable: store,
      buildInfo: { version: '0', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' },
    });
    const res = await slowApp.inject({ method: 'GET', url: '/api/v1/query_range', query: { query: 'up', start: '0', end: '100', step: '1' } });
    await slowApp.close();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' });
  });

  it('refuses queries over maxSamples with execution (422)', async () => {
    const small = Fastify();
    await small.register(queryApiPlugin, {
      engine: new Engine({ maxSamples: 10 }),
      queryable: store,
      buildInfo: { version: '0', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' },
    });
    const res = await small.inject({ method: 'GET', url: '/api/v1/query', query: { query: 'up[10m]', time: String((T0 + 300_000) / 1000) } });
    await small.close();
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ errorType: 'execution', error: expect.stringMatching(/too many samples/) });
  });

  it('lists series, label names and label values (GET and POST match[])', async () => {
    const series = await app.inject({ method: 'GET', url: '/api/v1/series?match[]=up&match[]=reqs_total' });
    expect(series.json().data).toEqual([
      { __name__: 'reqs_total', code: '200', job: 'api' },
      { __name__: 'up', instance: 'a', job: 'node' },
      { __name__: 'up', instance: 'b', job: 'node' },
    ]);
    const post = await app.inject({
      method: 'POST',
      url: '/api/v1/series',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'match[]=up%7Binstance%3D%22a%22%7D',
    });
    expect(post.json().data).toEqual([{ __name__: 'up', instance: 'a', job: 'node' }]);
    const names = await app.inject({ method: 'GET', url: '/api/v1/labels' });
    expect(names.json().data).toEqual(['__name__', 'code', 'instance', 'job']);
    const values = await app.inject({ method: 'GET', url: '/api/v1/label/job/values?match[]=up' });
    expect(values.json().data).toEqual(['node']);
    const metricNames = await app.inject({ method: 'GET', url: '/api/v1/label/__name__/values' });
    expect(metricNames.json().data).toEqual(['gone', 'reqs_total', 'up']);
  });

  it('serves metadata, buildinfo and an empty exemplar list', async () => {
    expect((await app.inject('/api/v1/metadata')).json()).toEqual({
      status: 'success',
      data: { up: [{ type: 'gauge', help: 'Target is up.', unit: '' }] },
    });
    expect((await app.inject('/api/v1/status/buildinfo')).json().data.version).toBe('0.1.0');
    expect((await app.inject('/api/v1/query_exemplars?query=up&start=0&end=10')).json()).toEqual({ status: 'success', data: [] });
  });
});

describe('API parameters', () => {
  it.each([
    { input: '1.5', want: 1500 },
    { input: '1700000000', want: 1_700_000_000_000 },
    { input: '2023-11-14T22:13:20Z', want: 1_700_000_000_000 },
    { input: '2023-11-14T22:13:20.123+00:00', want: 1_700_000_000_123 },
  ])('time $input', ({ input, want }) => expect(parseTimeParam('time', input)).toBe(want));

  it.each([
    { input: '15', want: 15_000 },
    { input: '0.5', want: 500 },
    { input: '1m30s', want: 90_000 },
  ])('duration $input', ({ input, want }) => expect(parseDurationParam('step', input)).toBe(want));

  it('rejects garbage with the parameter name', () => {
    expect(() => parseTimeParam('start', 'soon')).toThrow('invalid parameter "start": cannot parse "soon" to a valid timestamp');
    expect(() => parseDurationParam('step', '5x')).toThrow('invalid parameter "step": cannot parse "5x" to a valid duration');
  });
});
