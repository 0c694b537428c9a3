import { describe, expect, it } from 'vitest';
import { matchersString, matchesAll, parseMatcher, parseMatchers, sortMatchers } from './matchers.js';

describe('Alertmanager matchers', () => {
  it.each<{ name: string; input: string; want: string }>([
    { name: 'quoted equal', input: 'severity="critical"', want: '{severity="critical"}' },
    { name: 'unquoted regex', input: 'alertname=~Kube.*', want: '{alertname=~"Kube.*"}' },
    { name: 'not equal with spaces', input: ' team != "db" ', want: '{team!="db"}' },
    { name: 'list in braces, sorted', input: '{b="2", a=~"x|y"}', want: '{a=~"x|y",b="2"}' },
    { name: 'comma inside quotes', input: 'msg="a,b",x!~"1"', want: '{msg="a,b",x!~"1"}' },
    { name: 'escaped quote', input: 'msg="say \\"hi\\""', want: '{msg="say \\"hi\\""}' },
  ])('$name', ({ input, want }) => {
    expect(matchersString(sortMatchers(parseMatchers(input)))).toBe(want);
  });

  it('matches anchored regexes and absent labels as empty', () => {
    const ms = parseMatchers('{alertname=~"Kube.*", team!="db", env=""}');
    expect(matchesAll(ms, { alertname: 'KubePodCrashLooping', team: 'web' })).toBe(true);
    expect(matchesAll(ms, { alertname: 'NotKube' })).toBe(false);
    expect(matchesAll(ms, { alertname: 'KubeX', env: 'prod' })).toBe(false);
  });

  it('refuses malformed matchers', () => {
    expect(() => parseMatcher('severity')).toThrow(/bad matcher format/);
    expect(() => parseMatcher('a=~"("')).toThrow(/invalid regular expression/);
  });
});
