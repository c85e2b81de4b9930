import { describe, expect, it } from 'vitest';
import {
  type Capabilities,
  deriveChild,
  exceeds,
  holds,
  intersect,
  isSubset,
  mayUseModel,
  USER_CAPS,
} from '../../src/kernel/access-control';

const parent: Capabilities = {
  spawn: true,
  procs: 'children',
  models: ['m1', 'm2'],
  tokenQuota: 1000,
  modelAdmin: false,
};

describe('access control', () => {
  it('a child inherits what it does not ask for, clamped to the parent', () => {
    expect(deriveChild(parent, undefined)).toEqual(parent);
    expect(deriveChild(parent, { models: ['m1'], tokenQuota: 10 })).toEqual({
      ...parent,
      models: ['m1'],
      tokenQuota: 10,
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
  });

  it('intersection is a subset of both sides', () => {
    const other: Capabilities = {
      spawn: false,
      procs: 'all',
      models: ['*'],
      tokenQuota: null,
      modelAdmin: true,
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
  });
});
