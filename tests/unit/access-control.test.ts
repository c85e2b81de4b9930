import { describe, expect, it } from 'vitest';
import {
  type Capabilities,
  deriveChild,
  exceeds,
  holds,
  intersect,
  isSubset,
  mayReadNamespace,
  mayUseModel,
  mayWriteNamespace,
  USER_CAPS,
} from '../../src/kernel/access-control';
import { DEFAULT_LIMITS } from '../../src/kernel/limits';

const parent: Capabilities = {
  spawn: true,
  procs: 'children',
  models: ['m1', 'm2'],
  tokenQuota: 1000,
  modelAdmin: false,
  memoryRead: ['team'],
  memoryWrite: [],
  bus: ['family', 'topic:news'],
  tools: ['time.now', 'math.evaluate'],
  net: ['https://api.example.com'],
  memoryWrites: 50,
};

describe('access control', () => {
  it('a child inherits what it does not ask for, clamped to the parent', () => {
    // Shared memory namespaces are least-privilege: a child gets them only when they are asked for.
    // Limits (limits.ts) are inherited too: the defaults, clamped to the parent's (here: none named).
    const inherited = { limits: DEFAULT_LIMITS, audit: false };
    expect(deriveChild(parent, undefined)).toEqual({
      ...parent,
      memoryRead: [],
      bus: ['family'],
      net: [],
      ...inherited,
    });
    expect(deriveChild(parent, { memoryRead: ['team'] }).memoryRead).toEqual(['team']);
    expect(deriveChild(parent, { models: ['m1'], tokenQuota: 10 })).toEqual({
      ...parent,
      models: ['m1'],
      tokenQuota: 10,
      memoryRead: [],
      bus: ['family'],
      net: [],
      ...inherited,
    });
    expect(deriveChild(USER_CAPS, undefined).modelAdmin).toBe(false);
  });

  it('refuses any escalation with EPERM naming the excess', () => {
    expect(() => deriveChild(parent, { procs: 'all' })).toThrow(/EPERM.*procs:all/);
    expect(() => deriveChild(parent, { models: ['*'] })).toThrow(/model:\*/);
    expect(() => deriveChild(parent, { tokenQuota: null })).toThrow(/tokenQuota/);
    expect(() => deriveChild(parent, { tokenQuota: 1001 })).toThrow(/tokenQuota/);
    expect(() => deriveChild({ ...parent, spawn: false }, { spawn: true })).toThrow(/spawn/);
    expect(() => deriveChild(parent, { modelAdmin: true })).toThrow(/modelAdmin/);
    expect(() => deriveChild(parent, { memoryRead: ['team', 'secrets'] })).toThrow(/memoryRead:secrets/);
    expect(() => deriveChild(parent, { memoryWrite: ['team'] })).toThrow(/memoryWrite:team/);
    expect(deriveChild(parent, { memoryRead: [] }).memoryRead).toEqual([]);
    expect(() => deriveChild(parent, { bus: ['*'] })).toThrow(/bus:\*/);
    expect(() => deriveChild(parent, { bus: ['topic:secret'] })).toThrow(/bus:topic:secret/);
    expect(deriveChild(parent, { bus: ['topic:news'] }).bus).toEqual(['topic:news']);
  });

  it('intersection is a subset of both sides', () => {
    const other: Capabilities = {
      spawn: false,
      procs: 'all',
      models: ['*'],
      tokenQuota: null,
      modelAdmin: true,
      memoryRead: ['*'],
      memoryWrite: ['*'],
      bus: ['*'],
      tools: ['*'],
      net: ['*'],
      memoryWrites: null,
    };
    const i = intersect(parent, other);
    expect(isSubset(i, parent)).toBe(true);
    expect(isSubset(i, other)).toBe(true);
    expect(exceeds(other, parent).length).toBeGreaterThan(0);
  });

  it('holds and model grants', () => {
    expect(holds(parent, 'spawn')).toBe(true);
    expect(holds(parent, 'modelAdmin')).toBe(false);
    expect(holds({ ...parent, models: [] }, 'models')).toBe(false);
    expect(mayUseModel(parent, 'm2')).toBe(true);
    expect(mayUseModel(parent, 'm3')).toBe(false);
    expect(mayUseModel(USER_CAPS, 'anything')).toBe(true);
    expect(mayReadNamespace(parent, 7, 'agent:7')).toBe(true);
    expect(mayReadNamespace(parent, 7, 'agent:8')).toBe(false);
    expect(mayReadNamespace(parent, 7, 'team')).toBe(true);
    expect(mayWriteNamespace(parent, 7, 'team')).toBe(false);
    expect(mayWriteNamespace(USER_CAPS, 0, 'anything')).toBe(true);
  });
});

describe('network origins and memory-write caps', () => {
  it('a child gets at most its parent’s origins and write budget', () => {
    expect(deriveChild(parent, undefined).net).toEqual([]);
    expect(deriveChild(parent, undefined).memoryWrites).toBe(50);
    expect(deriveChild(parent, { net: ['https://api.example.com'] }).net).toEqual([
      'https://api.example.com',
    ]);
    expect(() => deriveChild(parent, { net: ['https://evil.example'] })).toThrow(
      /net:https:\/\/evil.example/,
    );
    expect(() => deriveChild(parent, { net: ['*'] })).toThrow(/EPERM/);
    expect(() => deriveChild(parent, { memoryWrites: 51 })).toThrow(/memoryWrites/);
    expect(() => deriveChild(parent, { memoryWrites: null })).toThrow(/memoryWrites/);
  });

  it('origins are compared exactly, scheme and port included', async () => {
    const { mayReachOrigin, originOf } = await import('../../src/kernel/access-control');
    const caps = { ...parent };
    expect(mayReachOrigin(caps, originOf('https://api.example.com/v1/x?y=1'))).toBe(true);
    expect(mayReachOrigin(caps, originOf('http://api.example.com/v1'))).toBe(false);
    expect(mayReachOrigin(caps, originOf('https://api.example.com:8443/'))).toBe(false);
    expect(mayReachOrigin(caps, originOf('https://api.example.com.evil.io/'))).toBe(false);
    expect(() => originOf('file:///etc/passwd')).toThrow(/EINVAL/);
    expect(() => originOf('javascript:alert(1)')).toThrow(/EINVAL/);
  });
});

describe('tool prefixes', () => {
  it("'host.*' covers the host page’s tools, and no other", async () => {
    const { coversTool, intersect, NO_CAPS } = await import('../../src/kernel/access-control');
    expect(coversTool(['host.*'], 'host.selection')).toBe(true);
    expect(coversTool(['host.*'], 'host.')).toBe(false);
    expect(coversTool(['host.*'], 'hostile.tool')).toBe(false);
    expect(coversTool(['host.*'], 'http.fetch')).toBe(false);
    const p = { ...parent, tools: ['host.*', 'time.now'] };
    expect(deriveChild(p, { tools: ['host.selection'] }).tools).toEqual(['host.selection']);
    expect(() => deriveChild(p, { tools: ['http.fetch'] })).toThrow(/tools:http.fetch/);
    expect(
      intersect({ ...NO_CAPS, tools: ['host.*'] }, { ...NO_CAPS, tools: ['host.a', 'x'] }).tools,
    ).toEqual(['host.a']);
  });
});
