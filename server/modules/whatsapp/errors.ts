import { AppError } from '../../lib/errors.js';
import { isEvolutionError } from './evolution.js';

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
      throw new AppError(502, 'whatsapp_gateway_unauthorized', 'O servidor de WhatsApp recusou as credenciais configuradas');
    case 'unavailable':
    case 'timeout':
    case 'rate_limited':
      throw new AppError(503, 'whatsapp_gateway_unavailable', 'O servidor de WhatsApp não respondeu; tente novamente em instantes', undefined, { 'Retry-After': '5' });
    default:
      throw new AppError(502, 'whatsapp_gateway_error', 'O servidor de WhatsApp recusou o pedido', { providerCode: err.code, providerStatus: err.status ?? null });
  }
}
