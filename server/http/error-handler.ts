import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { errorForLog } from '../infra/logger.js';
import { AppError, databaseUnavailable } from '../lib/errors.js';
import { databaseUnreachable } from '../lib/pg-errors.js';
import { sendJson } from './json.js';

interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  code?: string;
  expose?: boolean;
}

/** Maps anything thrown to the one error shape. Internal text never leaves the process. */
function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof z.ZodError) return new AppError(400, 'validation_failed', 'Invalid request', z.flattenError(err));
  if (databaseUnreachable(err)) return databaseUnavailable();
  // drizzle wraps driver errors (DrizzleQueryError): the SQLSTATE is on the cause.
  const raw = (err ?? {}) as HttpishError & { cause?: unknown };
  const e = (raw.code === undefined && raw.cause && typeof raw.cause === 'object' ? raw.cause : raw) as HttpishError & { message?: string };
  // body-parser
  if (e.type === 'entity.parse.failed') return new AppError(400, 'invalid_json', 'The request body is not valid JSON');
  if (e.type === 'entity.too.large') return new AppError(413, 'payload_too_large', 'The request body is too large');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
    return new AppError(415, 'unsupported_encoding', 'Unsupported body encoding');
  // multer
  if (e.code === 'LIMIT_FILE_SIZE') return new AppError(413, 'payload_too_large', 'The file is too large');
  if (typeof e.code === 'string' && e.code.startsWith('LIMIT_')) return new AppError(400, 'invalid_upload', 'Invalid multipart upload');
  // postgres (defensive: services should have turned these into meaningful errors already)
  // Our triggers (immutable signed records, append-only audit) raise OB409 with the code as message.
  if (e.code === 'OB409') return new AppError(409, e.message ?? 'immutable', 'This record can no longer be changed');
  if (e.code === '23505' || e.code === '23P01') return new AppError(409, 'conflict', 'This conflicts with an existing record');
  if (e.code === '40P01' || e.code === '40001') return new AppError(409, 'concurrent_change', 'Another change happened at the same time; try again');
  if (e.code === '23503') return new AppError(409, 'in_use', 'Other records still refer to this one');
  if (e.code === '22P02' || e.code === '22007' || e.code === '22008') return new AppError(400, 'invalid_value', 'A value has an invalid format');
  const status = e.status ?? e.statusCode;
  if (status && status >= 400 && status < 500) return new AppError(status, 'bad_request', 'Bad request');
  return new AppError(500, 'internal_error', 'Internal server error');
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const appError = toAppError(err);
  if (appError.status >= 500) req.log.error({ err: errorForLog(err) }, 'request failed');
  if (res.headersSent) return;
  if (appError.headers) res.set(appError.headers);
  sendJson(res, appError.status, {
    error: {
      code: appError.code,
      message: appError.message,
      ...(appError.details === undefined ? {} : { details: appError.details }),
      requestId: req.id,
    },
  });
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(404, 'route_not_found', `No route for ${req.method} ${req.path}`));
};
