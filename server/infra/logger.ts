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

/** Paths whose segment after the prefix is a bearer token (public forms, invitations, signed files). */
const TOKEN_IN_PATH = /^(\/api\/(?:public\/[^/]+|files\/content))\/[^/?]+/;

/** The URL as logged: no query string, no token in the path. */
export const loggableUrl = (url: string) => (url.split('?')[0] ?? '').replace(TOKEN_IN_PATH, '$1/[redacted]');

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
