/** The one error type. Services throw it; the error handler turns it into the one error shape. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what = 'Resource') => new AppError(404, 'not_found', `${what} not found`);
export const forbidden = (message = 'You do not have permission to do this') => new AppError(403, 'forbidden', message);
export const unauthorized = (message = 'Authentication required') => new AppError(401, 'unauthorized', message);
export const conflict = (code: string, message: string, details?: unknown) => new AppError(409, code, message, details);
export const badRequest = (code: string, message: string, details?: unknown) => new AppError(400, code, message, details);
export const notConfigured = (integration: string) =>
  new AppError(503, 'integration_not_configured', `The ${integration} integration is not configured on this server`);
/** The session store (Redis) did not answer: a retryable outage, not a bug. */
export const sessionStoreUnavailable = () =>
  new AppError(503, 'session_store_unavailable', 'Sign-in is temporarily unavailable; try again in a moment', undefined, { 'Retry-After': '5' });
/** Postgres could not be reached (restarting, failed over): the pool reconnects by itself, so the client retries. */
export const databaseUnavailable = () =>
  new AppError(503, 'database_unavailable', 'The service is briefly unavailable; try again in a moment', undefined, { 'Retry-After': '5' });
