import { z } from 'zod';
import { publicRoute, route, type RouteDef } from '../../http/route.js';
import type { Infra } from '../../infra/index.js';
import { readiness } from './health.js';
import { sendJson } from '../../http/json.js';

export interface PlatformOptions {
  draining: () => boolean;
  openapi: () => unknown;
}

const tag = 'Platform';

export const platformRoutes = (infra: Infra, opts: PlatformOptions): RouteDef[] => [
  publicRoute({
    method: 'get',
    path: '/health',
    summary: 'Liveness: the process answers (touches no dependency)',
    tag,
    response: z.object({ status: z.literal('ok') }),
    handler: async () => ({ status: 'ok' }),
  }),
  publicRoute({
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness: database, Redis and queue round trips, integrations configured; 503 when a dependency is down',
    tag,
    handler: async ({ res }) => {
      const report = await readiness(infra, opts.draining);
      sendJson(res, report.ok ? 200 : 503, report);
      return undefined;
    },
  }),
  publicRoute({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tag,
    handler: async () => opts.openapi(),
  }),
  route({
    method: 'get',
    path: '/jobs/failed',
    summary: 'Background jobs of the clinic that failed after every retry (admins)',
    tag,
    access: 'jobs:read',
    response: z.object({
      items: z.array(z.object({ id: z.string(), name: z.string(), attempts: z.number(), error: z.string(), failedAt: z.string().nullable() })),
    }),
    handler: async ({ ctx }) => ({ items: await infra.queue.failed(ctx.clinicId) }),
  }),
];

/** Routes for the deploy rehearsal and browser test only; mounted when ENABLE_TEST_ROUTES is set, never in the docs. */
export const testRoutes = (infra: Infra): RouteDef[] => [
  publicRoute({
    method: 'get',
    path: '/test/slow',
    summary: 'Answers after ?ms= milliseconds, like a long AI call',
    tag,
    internal: true,
    schemas: { query: z.strictObject({ ms: z.coerce.number().int().min(0).max(300_000) }) },
    handler: async ({ query }) => {
      await new Promise((resolve) => setTimeout(resolve, query.ms));
      return { waitedMs: query.ms };
    },
  }),
  route({
    method: 'post',
    path: '/test/ping',
    summary: 'Emits test:ping to the caller’s clinic room',
    tag,
    access: 'authenticated',
    internal: true,
    handler: async ({ ctx }) => {
      const at = new Date().toISOString();
      infra.realtime.emitToClinic(ctx.clinicId, 'test:ping', { at, by: String(process.pid) });
      return { at };
    },
  }),
];
