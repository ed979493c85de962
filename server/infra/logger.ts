import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Keys that may hold secrets or health data; their values never reach the log, at the top or one level down. */
const SENSITIVE_KEYS = ['password', 'newPassword', 'currentPassword', 'token', 'secret', 'apiKey', 'cpf', 'content', 'text', 'answers', 'body'];
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...SENSITIVE_KEYS,
  ...SENSITIVE_KEYS.map((key) => `*.${key}`),
];

const FLUSH_EVERY_MS = 500;

/**
 * Paths whose segment after the prefix is a bearer token (public forms, invitations, signed files).
 * Case-insensitive like Express's routing: `/api/Public/...` reaches the same route.
 */
const TOKEN_IN_PATH = /^(\/api\/(?:public\/[^/]+|files\/content))\/[^/?]+/i;

/** The URL as logged: no query string, no token in the path. */
export const loggableUrl = (url: string) => {
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).replace(TOKEN_IN_PATH, '$1/[redacted]');
};

/** pino-pretty is a dev dependency: absent from a production install, where logs stay JSON. */
function prettyStream(): DestinationStream | undefined {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined;
  }
  return pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } }) as DestinationStream;
}

export function createLogger(opts: { level: string; destination?: DestinationStream; pretty?: boolean }): Logger {
  const pretty = !opts.destination && opts.pretty ? prettyStream() : undefined;
  if (pretty) {
    return pino({ level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pretty);
  }
  // Asynchronous, batched writes keep logging off the request's hot path: one write of ~4 KB
  // instead of a system call per line (a tenth of a request's CPU, bench/auth-me.ts). A timer
  // flushes quiet periods within half a second; pino flushes what is left when the process exits.
  const stdout = opts.destination ? undefined : pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino(
    {
      level: opts.level,
      base: { service: 'operabase-api' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? stdout,
  );
  if (stdout) setInterval(() => stdout.flush(), FLUSH_EVERY_MS).unref();
  return logger;
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
