import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { IntegrationProvider } from '../../shared/schema/integrations.js';
import type { BaseContext, TenantContext } from './context.js';
import type { Permission } from '../lib/permissions.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type RateLimitName = 'login' | 'register' | 'passwordReset' | 'public' | 'changePassword' | 'googleSignIn';

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
  /** A request that is not multipart is read as JSON against `schemas.body` instead (one route for a file or a JSON source). */
  orJson?: boolean;
  /** The form fields beside the file; without it, `schemas.body` validates them. */
  fields?: z.ZodType;
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
  /**
   * Honours an `Idempotency-Key` header (tenant routes): the handler runs once per clinic, route and
   * key; retries get the stored answer (server/http/idempotency.ts). The handler must return its answer.
   */
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

/** The connection an inbound webhook was addressed to, with its decrypted credentials (for verify only). */
export interface WebhookConnection {
  id: string;
  clinicId: string;
  provider: IntegrationProvider;
  ownerUserId: string | null;
  credentials: Record<string, string>;
}

/** Looks up the connection named by a webhook URL; disabled or unknown ones are undefined. */
export interface WebhookConnections {
  resolveWebhook(provider: IntegrationProvider, ref: string): Promise<WebhookConnection | undefined>;
}

/** A webhook's context: the clinic comes from the connection, never from the payload. */
export interface WebhookContext extends BaseContext {
  clinicId: string;
  connection: Omit<WebhookConnection, 'credentials'>;
}

export interface WebhookVerifyInput {
  /** The body exactly as received: signatures are over these bytes. */
  raw: Buffer;
  headers: IncomingHttpHeaders;
  credentials: Record<string, string>;
}

/**
 * Inbound webhook from an external system at `/webhooks/<provider>/:ref` (or found by `resolve`):
 * the raw body is kept, `verify` runs (signature, token, JWT; throw a 401 AppError to refuse) before
 * any parsing, the connection gives the clinic, and the handler should store and enqueue, then answer.
 */
export interface WebhookRoute<S extends Schemas = Schemas> extends Common<S> {
  access: 'webhook';
  provider: IntegrationProvider;
  /**
   * For senders that cannot put a reference in the URL (a provider's global webhook names its sender
   * in the payload; Google push names its channel in a header): finds the connection from the
   * request, or undefined when none is known; the path then has no `:ref`. It may throw a 400
   * AppError for a body it cannot read.
   */
  resolve?: (input: { headers: IncomingHttpHeaders; raw: Buffer }) => Promise<WebhookConnection | undefined>;
  /** The answer when no active connection is found; without it a 404 (a sender that retries anything else gets its 200). */
  unknown?: () => unknown;
  verify: (input: WebhookVerifyInput) => void | Promise<void>;
  /** An empty body is `{}` (Google push notifications have none); otherwise it must be JSON. */
  handler: (input: Input<S, WebhookContext> & { raw: Buffer }) => Promise<unknown>;
}

export type RouteDef = PublicRoute<Schemas> | TenantRoute<Schemas> | WebhookRoute<Schemas>;

export const publicRoute = <S extends Schemas>(def: Omit<PublicRoute<S>, 'access'>): RouteDef =>
  ({ ...def, access: 'public' }) as unknown as RouteDef;

export const route = <S extends Schemas>(def: TenantRoute<S>): RouteDef => def as unknown as RouteDef;

export const webhookRoute = <S extends Schemas>(def: Omit<WebhookRoute<S>, 'access'>): RouteDef => ({ ...def, access: 'webhook' }) as unknown as RouteDef;

/** The `:ref` of a webhook URL: the connection's random public reference. */
export const webhookParams = z.strictObject({ ref: z.string().regex(/^[A-Za-z0-9_-]{20,64}$/) });

// Shared schema pieces.
export const uuidParam = z.strictObject({ id: z.uuid() });
export const listQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
};
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
