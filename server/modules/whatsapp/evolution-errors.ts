import { AppError } from '../../lib/errors.js';
import type { ProviderError } from '../integrations/providers.js';

/**
 * Evolution failures: classified for the caller (retry, reconcile, mark broken, tell the user) and
 * turned into answers. Messages name the route and Evolution's short reason, never a token or body.
 */

export class EvolutionError extends Error implements ProviderError {
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(
    readonly code: ProviderError['code'],
    message: string,
    opts: { retryable: boolean; ambiguous?: boolean; status?: number; retryAfterMs?: number },
  ) {
    super(message);
    this.name = 'EvolutionError';
    this.retryable = opts.retryable;
    this.ambiguous = opts.ambiguous ?? false;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export const isEvolutionError = (err: unknown): err is EvolutionError => err instanceof EvolutionError;

/** What a classification needs to know about the call. */
export interface CallInfo {
  /** Route template for messages (`message/sendText`): never the instance name with data, never a token. */
  route: string;
  /** Repeating it does no harm (reads, marks, presence): a timeout is then retryable. */
  idempotent: boolean;
}

type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Errors whose request never reached the gateway: safe to repeat even for a send. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The gateway's own words (`response.message`), short; never a request body. */
function detail(body: unknown): string {
  const message = isObject(body) ? (isObject(body.response) ? body.response.message : body.message) : undefined;
  const parts = (Array.isArray(message) ? message.flat() : [message]).filter((m): m is string => typeof m === 'string');
  return parts.join('; ').slice(0, 200);
}

/** HTTP answer -> error class: what the caller may do next (retry, mark broken, tell the user). */
export function classify(call: CallInfo, status: number, body: unknown, headers: Headers): EvolutionError {
  const said = detail(body);
  const where = `Evolution ${call.route} answered ${status}${said ? `: ${said}` : ''}`;
  if (status === 503 && isObject(body) && body.code === 'LICENSE_REQUIRED') {
    return new EvolutionError('license_required', 'Evolution API 2.4 is not activated (LICENSE_REQUIRED): activate the gateway licence or use 2.3', { retryable: false, status });
  }
  if (status === 401) return new EvolutionError('unauthorized', where, { retryable: false, status });
  if (status === 404) return new EvolutionError('not_found', where, { retryable: false, status });
  if (status === 429) {
    const seconds = Number(headers.get('retry-after'));
    return new EvolutionError('rate_limited', where, { retryable: true, status, retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000 });
  }
  if (status === 400 && isObject(body) && isObject(body.response) && Array.isArray(body.response.message)) {
    if (body.response.message.some((m) => isObject(m) && m.exists === false)) {
      return new EvolutionError('not_on_channel', `Evolution ${call.route} answered 400: the number is not on WhatsApp`, { retryable: false, status });
    }
  }
  if (status >= 500) return new EvolutionError('unavailable', where, { retryable: true, status });
  return new EvolutionError('rejected', where, { retryable: false, status });
}

export function networkError(call: CallInfo, err: unknown): EvolutionError {
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    // The gateway may have acted: a send must be reconciled, not repeated.
    return new EvolutionError('timeout', `Evolution ${call.route} did not answer in time`, { retryable: call.idempotent, ambiguous: true });
  }
  const cause = err instanceof Error && isObject(err.cause) ? err.cause : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  const sent = !NOT_SENT.has(code);
  return new EvolutionError('unavailable', `Evolution ${call.route} unreachable${code ? ` (${code})` : ''}`, {
    retryable: call.idempotent || !sent,
    ambiguous: sent && !call.idempotent,
  });
}

/**
 * An Evolution failure as the answer to our caller: what the user can do about it, in Portuguese,
 * never the gateway's raw text (it may name instances or numbers). Anything else is rethrown.
 */
export function gatewayError(err: unknown): never {
  if (!isEvolutionError(err)) throw err;
  switch (err.code) {
    case 'license_required':
      throw new AppError(503, 'whatsapp_license_required', 'O servidor Evolution API 2.4 precisa ter a licença ativada antes de conectar números de WhatsApp');
    case 'unauthorized':
      throw new AppError(502, 'whatsapp_gateway_unauthorized', 'O servidor de WhatsApp recusou as credenciais; reconecte o número ou confira a chave EVOLUTION_API_KEY');
    case 'not_found':
      throw new AppError(409, 'whatsapp_instance_not_found', 'Este número não existe mais no servidor de WhatsApp; use "reconectar" para criá-lo de novo');
    case 'unavailable':
    case 'timeout':
    case 'rate_limited':
      throw new AppError(503, 'whatsapp_gateway_unavailable', 'O servidor de WhatsApp não respondeu; tente novamente em instantes', undefined, { 'Retry-After': '5' });
    default:
      throw new AppError(502, 'whatsapp_gateway_error', 'O servidor de WhatsApp recusou o pedido', { providerCode: err.code, providerStatus: err.status ?? null });
  }
}
