import { eq } from 'drizzle-orm';
import { whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { conflict, notConfigured, notFound } from '../../lib/errors.js';
import type { IntegrationService } from '../integrations/service.js';
import { EvolutionClient, type EvolutionInstance } from './evolution.js';

export type WhatsappNumber = typeof whatsappNumbers.$inferSelect;

/** What a number's integration connection holds sealed (IntegrationService credentials). */
export interface NumberCredentials {
  /** The Evolution instance token: its `apikey` for that instance's calls. */
  instanceToken: string;
  /** Our `jwt_key` header value: Evolution signs each webhook with it (HS256). */
  webhookSecret: string;
}

export interface Channel {
  number: WhatsappNumber;
  instance: string;
  client: EvolutionInstance;
}

/**
 * The Evolution gateway and clients bound to one number's instance and token. Every WhatsApp call
 * goes through here, so "not configured" (503) and "not connected" (409) are answered in one place.
 */
export class Channels {
  private client?: EvolutionClient;

  constructor(
    private readonly infra: Pick<Infra, 'db' | 'config'>,
    private readonly connections: IntegrationService,
  ) {}

  get configured(): boolean {
    const { url, apiKey } = this.infra.config.evolution;
    return Boolean(url && apiKey);
  }

  /** The gateway's identity, kept on each number's connection: a number is probed by the gateway that holds it. */
  get gatewayUrl(): string {
    return (this.infra.config.evolution.url ?? '').replace(/\/+$/, '');
  }

  /** The gateway under the global key; 503 `integration_not_configured` without EVOLUTION_API_URL/KEY. */
  gateway(): EvolutionClient {
    const { url, apiKey, timeoutMs } = this.infra.config.evolution;
    if (!url || !apiKey) throw notConfigured('WhatsApp (Evolution API)');
    this.client ??= new EvolutionClient({ baseUrl: url, apiKey, timeoutMs });
    return this.client;
  }

  /**
   * The number's client under its own token. By default the number must be `open` (409
   * `number_not_connected` otherwise): sends and reads need a linked phone. `anyState` is for
   * managing the link itself (QR, probe, logout).
   */
  async forNumber(clinicId: string, numberId: string, opts: { anyState?: boolean } = {}): Promise<Channel> {
    const gateway = this.gateway();
    const [number] = await new ClinicData(clinicId, this.infra.db).select(whatsappNumbers, eq(whatsappNumbers.id, numberId));
    if (!number) throw notFound('WhatsApp number');
    if (!opts.anyState && number.state !== 'open') {
      throw conflict('number_not_connected', 'Este número de WhatsApp não está conectado', { numberId, state: number.state });
    }
    const credentials = (await this.connections.credentials(clinicId, number.connectionId)) as Partial<NumberCredentials>;
    if (!credentials.instanceToken) throw conflict('number_not_connected', 'Este número de WhatsApp não está conectado', { numberId, state: 'broken' });
    return { number, instance: number.instanceName, client: gateway.forInstance(number.instanceName, credentials.instanceToken) };
  }
}
