import { beforeAll, describe, expect, it } from 'vitest';
import { getTestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { allFixtures } from '../../helpers/fixtures.js';

beforeAll(async () => {
  await getTestApp();
});

const PREFIXES = ['/contacts', '/appointments', '/availability', '/appointment-tags', '/schedule-blocks', '/holidays'];
const HUGE = 'x'.repeat(100_000);
const BODIES: unknown[] = [[], 'texto', 42, null, { startsAt: HUGE }, { name: HUGE, notes: 1, tags: 'a' }, { contactId: 'nope', professionalId: 5, durationMinutes: '30' }, { date: '2030-13-45', color: '#zzz' }];
const QUERIES: Record<string, string>[] = [
  { limit: '-1', cursor: HUGE.slice(0, 300) },
  { from: 'ontem', to: '2030-99-99T00:00:00Z', professionalId: 'abc', year: '1e9', durationMinutes: 'NaN' },
  { search: '%\\_\u0000', cursor: 'bm90LWEtY3Vyc29y', page: '0' },
];

describe('patient and scheduling routes under bad input', () => {
  it('answer 4xx, never 5xx, to malformed bodies, queries and ids', async () => {
    const clinic: TestClinic = await createClinic();
    const fixtures = allFixtures();
    const routes = clinic.app.routes.filter((r) => PREFIXES.some((p) => r.path.startsWith(p)));
    expect(routes.length).toBeGreaterThan(15);
    const failures: string[] = [];
    for (const route of routes) {
      const input = route.path.includes(':') ? await fixtures[route.path]!(clinic) : {};
      const paths = [route.path.replace(/:(\w+)/g, (_, n: string) => input.params?.[n] ?? ''), route.path.replace(/:(\w+)/g, 'not-a-uuid')];
      for (const path of paths) {
        const agent = clinic.admin.agent;
        const send = async (body?: unknown, query?: Record<string, string>) => {
          const req = agent[route.method](`/api${path}`);
          if (query) void req.query(query);
          const res = route.method === 'get' || route.method === 'delete' ? await req : await req.set('Content-Type', 'application/json').send(JSON.stringify(body));
          if (res.status >= 500) failures.push(`${route.method} ${path} ${JSON.stringify(body ?? query).slice(0, 60)} -> ${res.status}`);
        };
        for (const query of QUERIES) await send({}, query);
        if (route.method !== 'get' && route.method !== 'delete') {
          for (const body of BODIES) await send(body);
          const raw = await agent[route.method](`/api${path}`).set('Content-Type', 'application/json').send('{"name": ');
          if (raw.status >= 500) failures.push(`${route.method} ${path} malformed JSON -> ${raw.status}`);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
