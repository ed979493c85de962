import { beforeAll, describe, expect, it } from 'vitest';
import type { Test } from 'supertest';
import { can, type Actor } from '../../server/lib/permissions.js';
import type { RouteDef, TenantRoute, WebhookRoute } from '../../server/http/route.js';
import { getTestApp } from '../helpers/app.js';
import { anonymous, createClinic, type Agent, type Member, type TestClinic } from '../helpers/clinic.js';
import { allFixtures, type RouteInput } from '../helpers/fixtures.js';

const app = await getTestApp();
const fixtures = allFixtures();
const tenantRoutes = app.routes.filter((r): r is TenantRoute => r.access !== 'public' && r.access !== 'webhook' && !r.internal);
const ZERO_UUID = '00000000-0000-4000-8000-000000000000';

function url(route: RouteDef, input: RouteInput) {
  return `/api${route.path.replace(/:(\w+)/g, (_, name: string) => input.params?.[name] ?? ZERO_UUID)}`;
}

function send(agent: Agent, route: RouteDef, input: RouteInput): Test {
  const req = agent[route.method](url(route, input));
  if (input.query) void req.query(input.query);
  return route.method === 'get' || route.method === 'delete' ? req : req.send((input.body ?? {}) as object);
}

const actorOf = (m: Member): Actor => ({ type: 'user', userId: m.id, role: m.role, isProfessional: m.isProfessional });

/** The first member whose role the permission table refuses for this route, if any. */
function weakMember(clinic: TestClinic, route: TenantRoute): Member | undefined {
  if (route.access === 'authenticated') return undefined;
  const permission = route.access;
  return [clinic.receptionist, clinic.professional, clinic.admin, clinic.doctorAdmin].find((m) => !can(actorOf(m), permission));
}

let a: TestClinic;
let b: TestClinic;
let narrowKey: string;

beforeAll(async () => {
  [a, b] = await Promise.all([createClinic(), createClinic()]);
  const key = await a.admin.agent.post('/api/api-keys').send({ name: 'narrow', scopes: ['clinic:read'] });
  narrowKey = key.body.key;
});

describe('every tenant route refuses the wrong caller', () => {
  it('lists routes and has a fixture for every route with a path parameter', () => {
    expect(tenantRoutes.length).toBeGreaterThan(10);
    const missing = tenantRoutes.filter((r) => r.path.includes(':') && !fixtures[r.path]).map((r) => r.path);
    expect(missing).toEqual([]);
  });

  for (const route of tenantRoutes) {
    const name = `${route.method.toUpperCase()} ${route.path}`;
    it(`${name}: 401 anonymous, 403 weak role or key scope, 404 from another clinic`, async () => {
      const input = route.path.includes(':') ? await (fixtures[route.path] as (c: TestClinic) => Promise<RouteInput>)(a) : {};

      const anon = await send(anonymous(app), route, input);
      expect(anon.status, `${name} anonymous`).toBe(401);
      expect(anon.body.error.code).toBeTypeOf('string');

      const weak = weakMember(a, route);
      if (weak) {
        const res = await send(weak.agent, route, input);
        expect(res.status, `${name} as ${weak.role}${weak.isProfessional ? ' (professional)' : ''}`).toBe(403);
      }

      if (route.access !== 'clinic:read' && !(route.access === 'authenticated' && !route.userOnly)) {
        const res = await send(anonymous(app).set('Authorization', `Bearer ${narrowKey}`), route, input);
        expect(res.status, `${name} with a key scoped to clinic:read`).toBe(403);
      }

      if (route.path.includes(':')) {
        const res = await send(b.doctorAdmin.agent, route, input);
        expect(res.status, `${name} from another clinic`).toBe(404);
      }
    });
  }
});

describe('every webhook route is reached only through a connection', () => {
  const webhookRoutes = app.routes.filter((r): r is WebhookRoute => r.access === 'webhook' && !r.resolve);
  // Senders that name their connection in the payload or headers (Evolution global webhook, Google push).
  const resolvedRoutes = app.routes.filter((r): r is WebhookRoute => r.access === 'webhook' && r.resolve !== undefined);

  it('lists the webhook routes, each named by :ref or resolved from the request', () => {
    expect(webhookRoutes.length).toBeGreaterThan(0);
    for (const route of webhookRoutes) expect(route.path).toMatch(/\/:ref$/);
    for (const route of resolvedRoutes) expect(route.path).not.toContain(':');
  });

  // A global webhook names its sender in the payload or a header: a session proves nothing there either.
  for (const route of resolvedRoutes) {
    it(`POST ${route.path}: a session is no credential; an unknown sender is ${route.unknown ? '200 ignored' : '404'}`, async () => {
      const status = route.unknown ? 200 : 404;
      const unknownSender = { event: 'messages.upsert', instance: 'nenhuma', data: {} };
      expect((await a.doctorAdmin.agent.post(`/api${route.path}`).send(unknownSender)).status).toBe(status);
      expect((await anonymous(app).post(`/api${route.path}`).send(unknownSender)).status).toBe(status);
    });
  }

  for (const route of webhookRoutes) {
    it(`POST ${route.path}: a session is no credential; an unknown reference is 404, a malformed one 400`, async () => {
      const unknown = url(route, { params: { ref: 'r'.repeat(43) } });
      const signedIn = await a.doctorAdmin.agent.post(unknown).send({ type: 'x' });
      expect(signedIn.status).toBe(404);
      expect((await anonymous(app).post(unknown).send({ type: 'x' })).status).toBe(404);
      expect((await anonymous(app).post(url(route, { params: { ref: 'curta' } })).send({})).status).toBe(400);
    });
  }
});
