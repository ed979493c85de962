import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths that may hold secrets or health data; their values never reach the log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.token',
  '*.secret',
  '*.apiKey',
  '*.cpf',
  '*.content',
  '*.text',
  '*.answers',
  '*.body',
];

export function createLogger(opts: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'operabase-api' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    // Asynchronous writes keep logging off the request's hot path.
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * What of an error may be logged. Query errors carry the SQL parameters (health data) in their
 * message and fields: only the driver's own message, code and the stack frames are kept.
 */
export function errorForLog(err: unknown): Record<string, unknown> {
  const e = (err ?? {}) as { name?: string; message?: string; code?: string; stack?: string; cause?: { message?: string; code?: string } };
  const cause = e.cause ?? e;
  return {
    type: e.name,
    code: cause.code,
    message: String(cause.message ?? e.message ?? err).slice(0, 300),
    stack: e.stack?.split('\n').filter((line) => line.trimStart().startsWith('at ')).slice(0, 8).join('\n'),
  };
}
