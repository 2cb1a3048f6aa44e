import { describe, expect, it } from 'vitest';
import type { TokenRecord } from '../../store/store.js';
import { checkRouteAccess, isClusterToken, mayActIn, requireNamespace, requireVisible, roleAtLeast, type RouteAccess } from './access.js';

const aToken = (role: TokenRecord['role'], namespaces: string[] | null): TokenRecord => ({
  id: `tok-${role}`, kind: 'api', hash: 'h', node: null, createdAt: 0, revokedAt: null, role, namespaces, name: null, expiresAt: null, parentId: null,
});

describe('route access', () => {
  const cases: [TokenRecord['role'], string[] | null, Exclude<RouteAccess, 'none' | 'join' | 'node'>, boolean][] = [
    ['viewer', ['a'], { role: 'viewer' }, true],
    ['viewer', ['a'], { role: 'operator' }, false],
    ['operator', ['a'], { role: 'operator' }, true],
    ['operator', ['a'], { role: 'admin' }, false],
    ['admin', ['a'], { role: 'operator' }, true],
    ['admin', ['a'], { role: 'admin', cluster: true }, false],
    ['admin', null, { role: 'admin', cluster: true }, true],
    ['viewer', null, { role: 'viewer', cluster: true }, true],
    ['viewer', null, { role: 'admin', cluster: true }, false],
    [null, null, { role: 'viewer' }, false],
  ];
  it.each(cases)('a %s token for %j on %j: allowed %s', (role, namespaces, access, allowed) => {
    const check = () => checkRouteAccess(aToken(role, namespaces), access);
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ code: 'forbidden' }));
  });

  it('ranks roles viewer < operator < admin', () => {
    expect(roleAtLeast('admin', 'viewer')).toBe(true);
    expect(roleAtLeast('viewer', 'admin')).toBe(false);
    expect(roleAtLeast(null, 'viewer')).toBe(false);
  });
});

describe('namespaces', () => {
  it('lets a scoped token act in its namespaces only, and a cluster token everywhere', () => {
    expect(mayActIn(aToken('viewer', ['a', 'b']), 'b')).toBe(true);
    expect(mayActIn(aToken('viewer', ['a', 'b']), 'c')).toBe(false);
    expect(mayActIn(aToken('viewer', null), 'c')).toBe(true);
    expect(isClusterToken(aToken('viewer', null))).toBe(true);
    expect(isClusterToken(aToken('admin', ['a']))).toBe(false);
  });

  it('answers a namespace the caller named with 403, and an object of another namespace with 404', () => {
    expect(() => requireNamespace(aToken('operator', ['a']), 'b')).toThrow(expect.objectContaining({ code: 'forbidden', message: expect.stringContaining('namespaces a only, not in "b"') }));
    expect(() => requireVisible(aToken('operator', ['a']), 'b', 'job', 'j-1')).toThrow(expect.objectContaining({ code: 'not_found', message: expect.stringContaining('job "j-1" does not exist') }));
    expect(() => requireVisible(aToken('operator', ['a']), 'a', 'job', 'j-1')).not.toThrow();
  });
});
