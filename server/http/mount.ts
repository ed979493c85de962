import express, { type RequestHandler, type Router } from 'express';
import multer from 'multer';
import { z } from 'zod';
import type { Authenticator } from './auth.js';
import { baseContext, type TenantContext } from './context.js';
import type { Sessions } from '../infra/sessions.js';
import { AppError } from './errors.js';
import { can } from './permissions.js';
import type { RateLimitName, RouteDef, UploadSpec } from './route.js';

export interface MountDeps {
  authenticator: Authenticator;
  sessions: Sessions;
  rateLimiters: Record<RateLimitName, RequestHandler>;
}

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
    upload(req, res, next);
  };
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string) {
  if (!schema) {
    return {};
  }
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new AppError(400, 'validation_failed', `Invalid ${where}`, { [where]: z.flattenError(result.error) });
  return result.data;
}

/** Builds the Express chain of each route: rate limit -> auth -> permission -> upload -> validation -> handler. */
export function mountRoutes(router: Router, routes: readonly RouteDef[], deps: MountDeps): void {
  for (const def of routes) {
    // The template, for metrics: once an error leaves the router, Express has reset req.baseUrl.
    const chain: RequestHandler[] = [
      (req, res, next) => {
        res.locals.routeTemplate = `${req.baseUrl}${def.path}`;
        next();
      },
    ];
    if (def.rateLimit) chain.push(deps.rateLimiters[def.rateLimit]);
    if (def.access === 'public' && def.session) {
      chain.push(async (req, _res, next) => {
        await deps.sessions.load(req);
        next();
      });
    }
    if (def.access !== 'public') {
      const access = def.access;
      const userOnly = 'userOnly' in def && def.userOnly === true;
      chain.push(async (req, _res, next) => {
        await deps.sessions.load(req);
        const ctx = await deps.authenticator.authenticate({ authorization: req.headers.authorization, session: req.session }, baseContext(req), { userOnly });
        if (access !== 'authenticated' && !can(ctx.actor, access)) throw new AppError(403, 'forbidden', 'You do not have permission to do this');
        req.tenant = ctx;
        next();
      });
    }
    if (def.upload) chain.push(uploader(def.upload));
    chain.push(async (req, res) => {
      const params = parse(def.schemas?.params, req.params, 'params');
      const query = parse(def.schemas?.query, req.query, 'query');
      // A multipart body carries form fields; a JSON body must be an object when a schema expects one.
      const body = def.method === 'get' || def.method === 'delete' ? {} : parse(def.schemas?.body, req.body, 'body');
      const ctx = (req.tenant ?? baseContext(req)) as TenantContext;
      const result = await def.handler({ params, query, body, ctx, req, res } as never);
      if (res.headersSent) return;
      const status = def.status ?? 200;
      if (result === undefined) res.status(status === 200 ? 204 : status).end();
      else res.status(status).json(result);
    });
    router[def.method](def.path, ...chain);
  }
}

export const jsonBody = (limit: string) => express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
