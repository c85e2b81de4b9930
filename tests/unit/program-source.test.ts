import { describe, expect, it } from 'vitest';
import { resolveProgram } from '../../src/kernel/program-source';

const OS = 'http://localhost:4173';

describe('resolveProgram', () => {
  it('keeps bare names as built-ins', () => {
    expect(resolveProgram('llm-agent', OS)).toEqual({ kind: 'builtin', name: 'llm-agent' });
  });

  it('resolves this origin’s paths as same-origin URLs', () => {
    expect(resolveProgram('/programs/a.js', OS)).toMatchObject({
      kind: 'url',
      url: `${OS}/programs/a.js`,
      sameOrigin: true,
    });
    expect(resolveProgram('./a.js', OS)).toMatchObject({ sameOrigin: true });
    expect(resolveProgram(`${OS}/a.js`, OS)).toMatchObject({ sameOrigin: true });
  });

  it('takes //host and /\\host for the other hosts they are, as the browser does', () => {
    for (const p of [
      '//evil.example/x.js',
      '/\\evil.example/x.js',
      '\\\\evil.example/x.js',
      'ht\ttp://evil.example/x.js',
    ])
      expect(resolveProgram(p, OS)).toMatchObject({
        kind: 'url',
        origin: 'http://evil.example',
        sameOrigin: false,
      });
  });

  it('refuses what cannot be a program', () => {
    expect(() => resolveProgram('javascript:alert(1)', OS)).toThrow(/EINVAL/);
    expect(() => resolveProgram('data:text/javascript,1', OS)).toThrow(/EINVAL/);
    expect(() => resolveProgram('http://u:p@localhost:4173/x.js', OS)).toThrow(/EINVAL/);
  });
});
