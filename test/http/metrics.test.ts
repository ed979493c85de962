import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { io as connect } from 'socket.io-client';
import { identifySocket } from '../../server/http/socket-auth.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createClinic } from '../helpers/clinic.js';

/** The value of one sample line of the Prometheus text, e.g. `websocket_connections`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('/metrics', () => {
  let app: TestApp;
  let server: Server;
  beforeAll(async () => {
    app = await buildTestApp({ env: { METRICS_TOKEN: 'segredo-das-metricas' } });
    server = createServer(app.app);
    app.infra.realtime.attach(server, {
      identify: identifySocket(app.authenticator),
      isAllowedOrigin: app.isAllowedOrigin,
      log: app.infra.log,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await app.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const metrics = () => request(app.app).get('/metrics').set('Authorization', 'Bearer segredo-das-metricas');

  it('is guarded by METRICS_TOKEN', async () => {
    expect((await request(app.app).get('/metrics')).status).toBe(401);
    expect((await request(app.app).get('/metrics').set('Authorization', 'Bearer errado')).status).toBe(401);
    const ok = await metrics();
    expect(ok.status).toBe(200);
    expect(ok.type).toBe('text/plain');
  });

  it('records request durations by route template, never by raw id', async () => {
    const clinic = await createClinic({ app });
    const id = '11111111-2222-4333-8444-555555555555';
    expect((await clinic.admin.agent.get(`/api/files/${id}`)).status).toBe(404);
    await clinic.admin.agent.get('/api/team');
    const text = (await metrics()).text;
    expect(text).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/api\/files\/:id"[^}]*status="404"/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/team",status="200"\} \d+/);
    expect(text).toMatch(/http_errors_total\{method="GET",route="\/api\/files\/:id",status="404"\} [1-9]/);
    expect(text).not.toContain(id);
    expect(text).not.toContain(clinic.id);
  });

  it('exposes cache hits and misses, queue depth and open WebSocket connections', async () => {
    const clinic = await createClinic({ app });
    const before = (await metrics()).text;
    // The membership is cached: the second request is a hit.
    await clinic.receptionist.agent.get('/api/team');
    await clinic.receptionist.agent.get('/api/team');
    const after = (await metrics()).text;
    expect(sample(after, 'cache_hits_total')).toBeGreaterThan(sample(before, 'cache_hits_total') ?? 0);
    expect(sample(after, 'cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'queue_jobs', 'state="waiting"')).toBeGreaterThanOrEqual(0);
    expect(sample(after, 'queue_jobs', 'state="failed"')).toBeGreaterThanOrEqual(0);
    expect(sample(after, 'db_pool_max_connections')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'websocket_connections')).toBe(0);

    const { key } = (await clinic.admin.agent.post('/api/api-keys').send({ name: 'socket', scopes: ['clinic:read'] })).body;
    const socket = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { auth: { token: key }, transports: ['websocket'] });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.on('connect', resolve);
        socket.on('connect_error', reject);
      });
      expect(sample((await metrics()).text, 'websocket_connections')).toBe(1);
    } finally {
      socket.disconnect();
    }
  });
});

describe('/metrics in production', () => {
  const productionEnv = { NODE_ENV: 'production', DATABASE_URL: 'postgres://unused@127.0.0.1:5432/unused', FILE_STORAGE: 'local', SESSION_SECRET: 's'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32) };

  it('is not served without METRICS_TOKEN, and needs the token when it is set', async () => {
    const open = await buildTestApp({ env: productionEnv });
    try {
      const res = await request(open.app).get('/metrics');
      expect(res.status).toBe(404);
      expect(res.text).not.toContain('http_request_duration_seconds');
    } finally {
      await open.close();
    }
    const guarded = await buildTestApp({ env: { ...productionEnv, METRICS_TOKEN: 'segredo' } });
    try {
      expect((await request(guarded.app).get('/metrics')).status).toBe(401);
      expect((await request(guarded.app).get('/metrics').set('Authorization', 'Bearer segredo')).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
