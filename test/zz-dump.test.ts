import { it } from 'vitest';
import { writeFileSync } from 'node:fs';
import request from 'supertest';
import { buildTestApp } from './helpers/app.js';
it('dump', async () => {
  const app = await buildTestApp();
  const ev = app.infra.events as unknown as { registered: Map<string, unknown>; targets: Map<string, string[]> };
  const strip = (x: string) => x.replace(/^t[0-9a-f]{8}:/, '');
  const out = {
    routes: app.routes.map((r) => `${r.method} ${r.path} ${String(r.access)}`),
    jobs: app.modules.jobs.map((j) => j.name),
    subscribers: [...ev.registered.keys()].map(strip),
    targets: [...ev.targets.entries()].map(([k, v]) => `${k}: ${v.map(strip).join(',')}`),
    services: Object.keys(app.modules.services),
    openapi: (await request(app.app).get('/api/openapi.json')).body,
  };
  writeFileSync(process.env.DUMP_TO ?? '/tmp/dump.json', JSON.stringify(out, null, 1));
  await app.close();
});
