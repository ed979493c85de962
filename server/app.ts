import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Infra } from './infra/index.js';
import { Metrics } from './infra/metrics.js';
import { SESSION_COOKIE } from './infra/sessions.js';
import { Authenticator } from './http/auth.js';
import { isolateCookieFromCrossSite, requireTrustedOrigin } from './http/csrf.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { compose } from './http/compose.js';
import { corsAllowlist } from './http/cors.js';
import { IdempotencyStore } from './http/idempotency.js';
import { apiRouter } from './http/mount.js';
import { buildOpenApi } from './http/openapi.js';
import { originMatcher } from './http/origins.js';
import { createRateLimiters, type RateLimits } from './http/rate-limit.js';
import { requestLogger } from './http/request-log.js';
import type { RouteDef } from './http/route.js';
import { GOOGLE_SIGNIN_COOKIE } from './modules/auth/google.js';
import { docsRouter } from './modules/platform/docs.js';
import { platformRoutes, testRoutes } from './modules/platform/routes.js';
import type { Modules } from './modules/index.js';
import { sendJson } from './http/json.js';

export interface AppOptions {
  infra: Infra;
  modules: Modules;
  draining?: () => boolean;
  /** Overrides of the configured limits (tests, benchmarks). */
  rateLimits?: Partial<RateLimits>;
}

export interface App {
  app: Express;
  routes: RouteDef[];
  authenticator: Authenticator;
  isAllowedOrigin: (origin: string | undefined) => boolean;
  metrics: Metrics;
}

/**
 * The headers OWASP's REST Security Cheat Sheet asks of a JSON API: no framing, no sniffing, HSTS,
 * no referrer, no caching of (health) data. Helmet's page-oriented headers are left off here; the
 * HTML of /api/docs gets helmet's page policy in its own router.
 */
const helmetForApi = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-site' },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
});
const apiSecurityHeaders: RequestHandler = (req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  helmetForApi(req, res, next);
};

/** The middleware chain and every feature's routes. No I/O happens here. */
export function createApp({ infra, modules, draining = () => false, rateLimits }: AppOptions): App {
  const { config } = infra;
  const app = express();
  // ALB -> nginx -> node: trust the proxies on private and loopback addresses for client IP and https.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.disable('x-powered-by');
  app.set('etag', false);

  const isAllowedOrigin = originMatcher(config.corsOrigins);
  const authenticator = new Authenticator(infra.systemDb, infra.cache, infra.sessions);
  const metrics = new Metrics({
    cacheStats: () => infra.cache.stats,
    dbPoolMax: () => infra.database.poolMax,
    socketConnections: () => infra.realtime.connections,
    queueDepth: () => infra.queue.depth(),
    outboxStats: () => infra.events.stats(),
    outboxFailures: () => infra.events.failures,
    calendarSync: () => modules.services.googleCalendar.sync.stats(),
  });
  for (const metric of modules.metrics) metrics.registry.registerMetric(metric);

  const routes: RouteDef[] = [
    ...platformRoutes(infra, { draining, openapi: () => openapi }),
    ...modules.routes,
    ...(config.enableTestRoutes ? testRoutes(infra) : []),
  ];
  const openapi = buildOpenApi(routes, { version: config.version });

  // What every request goes through, as one layer (see compose).
  app.use(
    compose([
      // Health checks every few seconds would drown the log.
      requestLogger(app, infra.log, { quietPaths: ['/api/health'], observe: metrics.observe }),
      apiSecurityHeaders,
      corsAllowlist(isAllowedOrigin),
      isolateCookieFromCrossSite(isAllowedOrigin, [GOOGLE_SIGNIN_COOKIE]),
      requireTrustedOrigin(SESSION_COOKIE, isAllowedOrigin, { allowedOrigins: config.production ? undefined : config.corsOrigins }),
    ]),
  );

  app.use(
    apiRouter(routes, {
      authenticator,
      sessions: infra.sessions,
      rateLimiters: createRateLimiters({ ...config.rateLimits, ...rateLimits }, infra.redis, config.redisPrefix, infra.log),
      idempotency: new IdempotencyStore(infra.db),
      webhooks: modules.services.integrations.connections,
    }),
  );
  // A visitor of the bare API (a newcomer's browser or curl) is pointed at its reference.
  app.get('/', (_req, res) => {
    sendJson(res, 200, { name: 'Operabase API', docs: '/api/docs', openapi: '/api/openapi.json', health: '/api/health' });
  });
  app.get('/metrics', async (req, res, next) => {
    // Production serves metrics only behind METRICS_TOKEN (server/index.ts warns at boot when it is unset).
    if (config.production && !config.metricsToken) return next();
    if (config.metricsToken && req.get('authorization') !== `Bearer ${config.metricsToken}`) {
      sendJson(res, 401, { error: { code: 'unauthorized', message: 'Metrics token required', requestId: req.id } });
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use('/api/docs', docsRouter(path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))));

  app.use(notFoundHandler);
  app.use(errorHandler);

  return { app, routes, authenticator, isAllowedOrigin, metrics };
}
