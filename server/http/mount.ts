import express, { type Request, type RequestHandler, type Response } from 'express';
import { match, type MatchFunction } from 'path-to-regexp';
import multer from 'multer';
import { z } from 'zod';
import type { Authenticator } from './auth.js';
import { compose } from './compose.js';
import { baseContext, tenantContext, type BaseContext, type TenantContext } from './context.js';
import type { Sessions } from '../infra/sessions.js';
import { AppError, badRequest, notFound } from '../lib/errors.js';
import { readIdempotencyKey, type IdempotencyStore } from './idempotency.js';
import { can } from '../lib/permissions.js';
import { webhookParams, type RateLimitName, type RouteDef, type UploadSpec, type WebhookConnections, type WebhookContext, type WebhookRoute } from './route.js';
import { sendJson } from './json.js';

export interface MountDeps {
  authenticator: Authenticator;
  sessions: Sessions;
  rateLimiters: Record<RateLimitName, RequestHandler>;
  idempotency: IdempotencyStore;
  webhooks: WebhookConnections;
}

const badMultipart = () => new AppError(400, 'invalid_upload', 'The multipart body is malformed or truncated');

function uploader(spec: UploadSpec): RequestHandler {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: spec.maxBytes, files: 1, fields: 10, fieldSize: 10_000 },
    fileFilter: (_req, file, cb) => {
      if (spec.types.includes(file.mimetype)) cb(null, true);
      else cb(new AppError(415, 'unsupported_file_type', `Files of type ${file.mimetype} are not accepted`, { allowed: spec.types }));
    },
  }).single(spec.field);
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) return next(new AppError(415, 'multipart_required', 'Send the file as multipart/form-data'));
    upload(req, res, (err?: unknown) => {
      // busboy's own errors (no boundary, truncated body) are plain Errors: the client's, not ours.
      if (err && !(err instanceof AppError) && !(err instanceof multer.MulterError)) return next(badMultipart());
      if (!err && req.file?.originalname.includes('\u0000')) return next(badMultipart());
      next(err);
    });
  };
}

/** Whether any string in the value (keys included) holds a NUL, which Postgres text cannot store. */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\u0000') || holdsNul(v));
  return false;
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string) {
  if (!schema) {
    return {};
  }
  // Every route's input, whatever its schema: refused here rather than failing in the database.
  if (holdsNul(value)) throw new AppError(400, 'validation_failed', `Invalid ${where}`, { [where]: { formErrors: ['Text cannot contain NUL characters'], fieldErrors: {} } });
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new AppError(400, 'validation_failed', `Invalid ${where}`, { [where]: z.flattenError(result.error) });
  return result.data;
}

const API = '/api';

/** The segment after /api (`/api/contacts/:id` -> `contacts`), lower-cased as Express matches; '' outside /api. */
const apiSegment = (path: string) => {
  if (!path.startsWith(`${API}/`)) return '';
  const end = path.indexOf('/', API.length + 1);
  return (end === -1 ? path.slice(API.length + 1) : path.slice(API.length + 1, end)).toLowerCase();
};

/** As Express decodes path parameters; a malformed escape is the client's error. */
const decodeParam = (value: string) => {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new AppError(400, 'invalid_path', 'The request path is not valid');
  }
};

interface MountedRoute {
  method: string;
  template: string;
  match: MatchFunction<Partial<Record<string, string>>>;
  handle: RequestHandler;
}

/**
 * The handler of every route under /api. Routes are grouped by their first segment, so a request
 * is matched against its own feature's routes only, with the matcher Express itself uses
 * (path-to-regexp, case-insensitive, optional trailing slash, HEAD served by GET); one router
 * pass per request instead of a nested Express router per feature (bench/auth-me.ts).
 */
export function apiRouter(routes: readonly RouteDef[], deps: MountDeps): RequestHandler {
  const bySegment = new Map<string, MountedRoute[]>();
  for (const def of routes) {
    const template = `${API}${def.path}`;
    const segment = apiSegment(template);
    if (segment === '' || segment.startsWith(':')) throw new Error(`route ${def.path} must start with a fixed segment`);
    const mounted = bySegment.get(segment) ?? [];
    bySegment.set(segment, mounted);
    mounted.push({
      method: def.method.toUpperCase(),
      template,
      match: match(template, { sensitive: false, end: true, trailing: true, decode: decodeParam }),
      handle: def.access === 'webhook' ? webhookHandler(def, deps) : routeHandler(def, deps),
    });
  }
  return (req, res, next) => {
    const candidates = bySegment.get(apiSegment(req.path));
    if (!candidates) return next();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    for (const route of candidates) {
      if (route.method !== method) continue;
      const found = route.match(req.path);
      if (!found) continue;
      req.params = found.params as Record<string, string>;
      // The template, for metrics (`/api/contacts/:id`, never the raw path).
      res.locals.routeTemplate = route.template;
      return route.handle(req, res, next);
    }
    next();
  };
}

/** Runs an Express middleware (multer) inside an async step. */
const run = (middleware: RequestHandler, req: Request, res: Response) =>
  new Promise<void>((resolve, reject) => middleware(req, res, (err?: unknown) => (err === undefined || err === null ? resolve() : reject(err))));

/**
 * One route as one Express layer: body -> rate limit (public routes), then one async step: session
 * -> auth -> permission -> rate limit (signed-in routes) -> upload -> validation -> handler (an
 * upload is read only once the caller may send it).
 */
function routeHandler(def: Exclude<RouteDef, WebhookRoute>, deps: MountDeps): RequestHandler {
  if (def.idempotent && def.access === 'public') throw new Error(`route ${def.path}: Idempotency-Key needs a clinic, public routes cannot be idempotent`);
  const before: RequestHandler[] = [];
  if (def.method !== 'get' && def.method !== 'delete') before.push(jsonBody);
  const access = def.access;
  const limiter = def.rateLimit ? deps.rateLimiters[def.rateLimit] : undefined;
  // Public routes count per address before any work; signed-in routes count per user or key, once
  // authenticated (a stolen session guessing its password from many addresses is still one subject).
  if (limiter && access === 'public') before.push(limiter);
  const loadSession = access === 'public' && def.session === true;
  const userOnly = 'userOnly' in def && def.userOnly === true;
  const upload = def.upload ? uploader(def.upload) : undefined;

  const handle = async (req: Request, res: Response) => {
    if (loadSession) await deps.sessions.load(req, res);
    let ctx: BaseContext | TenantContext;
    if (access === 'public') ctx = baseContext(req);
    else {
      const identity = await deps.authenticator.authenticate({ authorization: req.headers.authorization, req }, { userOnly });
      if (access !== 'authenticated' && !can(identity.actor, access)) throw new AppError(403, 'forbidden', 'You do not have permission to do this');
      ctx = tenantContext(req, identity);
      if (limiter) {
        res.locals.rateLimitSubject = identity.actor.type === 'user' ? identity.actor.userId : identity.actor.type === 'api_key' ? identity.actor.apiKeyId : identity.actor.service;
        await run(limiter, req, res);
      }
    }
    const multipart = upload !== undefined && !(def.upload?.orJson && !req.is('multipart/form-data'));
    if (multipart) await run(upload, req, res);
    const params = parse(def.schemas?.params, req.params, 'params');
    // req.query parses the query string on every read: only routes that take a query read it.
    const query = def.schemas?.query ? parse(def.schemas.query, req.query, 'query') : {};
    // A multipart body carries form fields; a JSON body must be an object when a schema expects one.
    const bodySchema = multipart && def.upload?.fields ? def.upload.fields : def.schemas?.body;
    const body = def.method === 'get' || def.method === 'delete' ? {} : parse(bodySchema, req.body, 'body');
    const key = def.idempotent ? readIdempotencyKey(req.get('Idempotency-Key')) : undefined;
    if (key === undefined) {
      const result = await def.handler({ params, query, body, ctx, req, res } as never);
      if (!res.headersSent) answer(res, def.status, result);
      return;
    }
    const stored = await deps.idempotency.run(
      { clinicId: (ctx as TenantContext).clinicId, route: `${def.method.toUpperCase()} ${def.path}`, key, request: { params, query, body } },
      async () => {
        const result = await def.handler({ params, query, body, ctx, req, res } as never);
        if (res.headersSent) throw new Error(`idempotent route ${def.path} wrote its own answer`);
        return { status: def.status ?? 200, body: result };
      },
    );
    if (stored.replayed) res.setHeader('Idempotent-Replayed', 'true');
    answer(res, stored.status, stored.body ?? undefined);
  };
  const step: RequestHandler = (req, res, next) => {
    handle(req, res).catch(next);
  };
  return before.length === 0 ? step : compose([...before, step]);
}

/** A handler's result as the answer: JSON, or 204 for nothing (unless the route names another status). */
function answer(res: Response, status = 200, result: unknown) {
  if (result === undefined) res.status(status === 200 ? 204 : status).end();
  else sendJson(res, status, result);
}

/**
 * An inbound webhook: raw body -> the connection named by `:ref` (its clinic, its credentials) ->
 * provider verify on the raw bytes -> JSON parse and validation -> handler (store, enqueue, answer).
 * Nothing is parsed before the signature holds; an unknown or disabled connection is a 404.
 */
function webhookHandler(def: WebhookRoute, deps: MountDeps): RequestHandler {
  if (!def.path.includes('/:ref') && !def.resolve) throw new Error(`webhook route ${def.path} must name its connection with :ref or resolve it`);
  if (def.method !== 'post') throw new Error(`webhook route ${def.path} must be a POST`);
  const before: RequestHandler[] = [rawBody];
  if (def.rateLimit) before.push(deps.rateLimiters[def.rateLimit]);
  const handle = async (req: Request, res: Response) => {
    // The path's params are checked once, before anything is read: `:ref` names the connection.
    const params = parse(def.schemas?.params ?? (def.resolve ? undefined : webhookParams), req.params, 'params') as { ref?: string };
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const connection = def.resolve ? await def.resolve({ headers: req.headers, raw }) : await deps.webhooks.resolveWebhook(def.provider, params.ref as string);
    if (!connection && def.unknown) {
      // Logged without the payload: it may hold message text and the sender's token.
      req.log.info({ provider: def.provider, route: def.path }, 'webhook for no known connection ignored');
      return answer(res, def.status, def.unknown());
    }
    if (!connection) throw notFound('Webhook');
    await def.verify({ raw, headers: req.headers, credentials: connection.credentials });
    let json: unknown = {};
    if (raw.length > 0) {
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest('invalid_json', 'The request body is not valid JSON');
      }
    }
    const query = def.schemas?.query ? parse(def.schemas.query, req.query, 'query') : {};
    const body = parse(def.schemas?.body, json, 'body');
    const { credentials: _secret, ...visible } = connection;
    const ctx: WebhookContext = Object.assign(baseContext(req), { clinicId: connection.clinicId, connection: visible });
    const result = await def.handler({ params, query, body, ctx, req, res, raw } as never);
    if (!res.headersSent) answer(res, def.status, result);
  };
  const step: RequestHandler = (req, res, next) => {
    handle(req, res).catch(next);
  };
  return compose([...before, step]);
}

// Any content type: the provider decides what it signed; JSON is parsed only after verify.
const rawBody = express.raw({ limit: '1mb', type: () => true });

const jsonBody = express.json({ limit: '1mb', strict: true, type: ['application/json', 'application/*+json'] });
