import { describe, expect, it } from 'vitest';
import { API_KEY_SCOPES, PERMISSIONS, can, type Actor, type Permission } from '../../server/lib/permissions.js';

const user = (role: 'admin' | 'professional' | 'receptionist', isProfessional = role === 'professional'): Actor => ({
  type: 'user',
  userId: 'u',
  role,
  isProfessional,
});

const members = {
  admin: user('admin'),
  doctorAdmin: user('admin', true),
  professional: user('professional'),
  receptionist: user('receptionist'),
};
type Who = keyof typeof members;

/**
 * The foundation's permissions, written out by hand: a change to the table must change this test
 * too. Features add their own rows to this test when they add permissions.
 */
const EXPECTED: Partial<Record<Permission, Who[]>> = {
  'clinic:read': ['admin', 'doctorAdmin', 'professional', 'receptionist'],
  'clinic:manage': ['admin', 'doctorAdmin'],
  'team:read': ['admin', 'doctorAdmin', 'professional', 'receptionist'],
  'team:manage': ['admin', 'doctorAdmin'],
  'api_keys:manage': ['admin', 'doctorAdmin'],
  'audit:read': ['admin', 'doctorAdmin'],
  'jobs:read': ['admin', 'doctorAdmin'],
  'files:read': ['admin', 'doctorAdmin', 'professional', 'receptionist'],
  'files:write': ['admin', 'doctorAdmin', 'professional', 'receptionist'],
  'records:assist': ['doctorAdmin', 'professional'],
};
const KEY_GRANTABLE: Permission[] = ['clinic:read', 'team:read', 'files:read', 'files:write'];

describe('permission table', () => {
  for (const [permission, allowed] of Object.entries(EXPECTED) as [Permission, Who[]][]) {
    it(`${permission}: ${allowed.join(', ')}`, () => {
      for (const who of Object.keys(members) as Who[]) {
        expect(can(members[who], permission), `${who} -> ${permission}`).toBe(allowed.includes(who));
      }
    });
  }

  it('a receptionist cannot manage the clinic, team, keys, audit or jobs', () => {
    for (const p of ['clinic:manage', 'team:manage', 'api_keys:manage', 'audit:read', 'jobs:read'] as Permission[]) {
      expect(can(members.receptionist, p), p).toBe(false);
    }
  });

  it('clinical permissions need a professional, whatever the role; no key may hold them', () => {
    const clinical = (Object.keys(PERMISSIONS) as Permission[]).filter((p) => 'professionalOnly' in PERMISSIONS[p] && PERMISSIONS[p].professionalOnly);
    for (const p of clinical) {
      expect(can(members.admin, p), `admin (not a professional) -> ${p}`).toBe(false);
      expect(can(members.receptionist, p), `receptionist -> ${p}`).toBe(false);
      expect(API_KEY_SCOPES, p).not.toContain(p);
    }
  });

  it('API keys get exactly the scopes they hold, among those a key may be granted', () => {
    for (const p of KEY_GRANTABLE) expect(API_KEY_SCOPES).toContain(p);
    for (const p of ['clinic:manage', 'team:manage', 'api_keys:manage', 'audit:read', 'jobs:read'] as Permission[]) expect(API_KEY_SCOPES).not.toContain(p);
    const key: Actor = { type: 'api_key', apiKeyId: 'k', scopes: ['clinic:read', 'audit:read'] };
    expect(can(key, 'clinic:read')).toBe(true);
    expect(can(key, 'team:read')).toBe(false);
    // A scope the table does not grant to keys stays refused even if a row somehow holds it.
    expect(can(key, 'audit:read')).toBe(false);
  });

  it('every permission has at least one role and an explicit key rule', () => {
    for (const [p, rule] of Object.entries(PERMISSIONS)) {
      expect(rule.roles.length, p).toBeGreaterThan(0);
      expect(typeof rule.apiKey, p).toBe('boolean');
    }
  });
});
