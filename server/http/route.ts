import type { Request, Response } from 'express';
import { z } from 'zod';
import type { BaseContext, TenantContext } from './context.js';
import type { Permission } from './permissions.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type RateLimitName = 'login' | 'register' | 'passwordReset' | 'public' | 'changePassword';

type Infer<S> = S extends z.ZodType ? z.infer<S> : Record<string, never>;

interface Schemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

interface Input<S extends Schemas, C> {
  params: Infer<S['params']>;
  query: Infer<S['query']>;
  body: Infer<S['body']>;
  ctx: C;
  req: Request;
  res: Response;
}

export interface UploadSpec {
  field: string;
  maxBytes: number;
  /** Allowed MIME types. */
  types: readonly string[];
}

interface Common<S extends Schemas> {
  method: Method;
  /** Express path under /api, e.g. `/contacts/:id`. */
  path: string;
  summary: string;
  tag: string;
  schemas?: S;
  /** Documented response body (not checked at run time). */
  response?: z.ZodType;
  /** Status of a successful answer; 201 for creations. */
  status?: number;
  rateLimit?: RateLimitName;
  upload?: UploadSpec;
  /** Accepts an `Idempotency-Key` header (documented; handled by the service). */
  idempotent?: boolean;
  /** Hidden from the OpenAPI document and from the generic route tests (test-only routes). */
  internal?: boolean;
}

export interface PublicRoute<S extends Schemas = Schemas> extends Common<S> {
  access: 'public';
  /** Loads the session (sign-in routes). Tenant routes always do; other public routes skip the cost. */
  session?: boolean;
  handler: (input: Input<S, BaseContext>) => Promise<unknown>;
}

/** `authenticated`: any signed-in user or key of the clinic; otherwise a permission of the table. */
export interface TenantRoute<S extends Schemas = Schemas> extends Common<S> {
  access: Permission | 'authenticated';
  /** Session only (no API key), e.g. changing one's password. */
  userOnly?: boolean;
  handler: (input: Input<S, TenantContext>) => Promise<unknown>;
}

export type RouteDef = PublicRoute<Schemas> | TenantRoute<Schemas>;

export const publicRoute = <S extends Schemas>(def: Omit<PublicRoute<S>, 'access'>): RouteDef =>
  ({ ...def, access: 'public' }) as unknown as RouteDef;

export const route = <S extends Schemas>(def: TenantRoute<S>): RouteDef => def as unknown as RouteDef;

// Shared schema pieces.
export const uuidParam = z.strictObject({ id: z.uuid() });
export const listQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
};
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
