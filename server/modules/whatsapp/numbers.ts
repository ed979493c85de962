import { randomBytes } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { conversations, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { conflict, notConfigured, notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { IntegrationService } from '../integrations/service.js';
import type { ConnectResult } from '../integrations/providers.js';
import type { TeamService } from '../team/service.js';
import type { Channels, NumberCredentials, WhatsappNumber } from './channels.js';
import { gatewayError, isEvolutionError } from './evolution-errors.js';
import type { EvolutionInstance } from './evolution.js';
import type { NumberLookup } from './lookup.js';
import { nextState, phoneOf, reasonOf, type ConnectionEvent } from './state.js';

/** The events our receiver handles; Evolution sends nothing else. */
export const WEBHOOK_EVENTS = ['MESSAGES_UPSERT', 'MESSAGES_UPDATE', 'MESSAGES_DELETE', 'MESSAGES_EDITED', 'SEND_MESSAGE', 'SEND_MESSAGE_UPDATE', 'CONNECTION_UPDATE', 'QRCODE_UPDATED', 'CONTACTS_UPSERT', 'CONTACTS_UPDATE'];

export interface NumberView {
  id: string;
  name: string | null;
  instanceName: string;
  professionalId: string | null;
  phone: string | null;
  state: WhatsappNumber['state'];
  stateReason: string | null;
  stateChangedAt: Date;
  lastProbeAt: Date | null;
  gatewayError: string | null;
  groupsEnabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** How to link a phone right now: a QR (and pairing code), already linked, or not ready yet. */
export type LinkView = { state: 'open' } | { state: 'pending' } | { state: 'qr'; code: string; base64: string; pairingCode: string | null };

const view = (row: WhatsappNumber): NumberView => ({
  id: row.id,
  name: row.name,
  instanceName: row.instanceName,
  professionalId: row.professionalId,
  phone: row.phone,
  state: row.state,
  stateReason: row.stateReason,
  stateChangedAt: row.stateChangedAt,
  lastProbeAt: row.lastProbeAt,
  gatewayError: row.gatewayError,
  groupsEnabled: row.groupsEnabled,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const linkView = (result: ConnectResult): LinkView => (result.state === 'qr' ? { ...result, pairingCode: result.pairingCode ?? null } : result);

/** The state a connect answer shows: a QR means "waiting for a scan". */
const eventOf = (result: ConnectResult): ConnectionEvent | undefined =>
  result.state === 'qr' ? { state: 'qr' } : result.state === 'open' ? { state: 'open' } : undefined;

const secret = () => randomBytes(32).toString('base64url');

/**
 * A clinic's WhatsApp numbers: one Evolution instance each, its token and webhook secret sealed in
 * an integration connection, its state moved by webhooks, by the probe and by our own calls.
 */
export class NumberService {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'config' | 'events' | 'log'>,
    private readonly connections: IntegrationService,
    private readonly channels: Channels,
    private readonly team: Pick<TeamService, 'professional'>,
    private readonly audit: AuditService,
    private readonly lookup: Pick<NumberLookup, 'forget'>,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private async row(clinicId: string, id: string): Promise<WhatsappNumber> {
    const [row] = await this.data(clinicId).select(whatsappNumbers, eq(whatsappNumbers.id, id));
    if (!row) throw notFound('WhatsApp number');
    return row;
  }

  /** Ours first (404 for another clinic's), then the gateway's configuration (503). */
  private async managed(ctx: TenantContext, id: string) {
    await this.row(ctx.clinicId, id);
    return this.channels.forNumber(ctx.clinicId, id, { anyState: true });
  }

  /** Where Evolution calls us back; 503 without WEBHOOK_BASE_URL or PUBLIC_API_URL. */
  private webhookBase(): string {
    const base = this.infra.config.webhookBaseUrl ?? this.infra.config.publicApiUrl;
    if (!base) throw notConfigured('WhatsApp webhook (WEBHOOK_BASE_URL or PUBLIC_API_URL)');
    return `${base.replace(/\/+$/, '')}/api/webhooks/evolution`;
  }

  private webhookUrl(ref: string | null): string {
    if (!ref) throw new Error('an Evolution connection without a webhook reference');
    return `${this.webhookBase()}/${ref}`;
  }

  async list(ctx: TenantContext): Promise<NumberView[]> {
    this.channels.gateway();
    const rows = await this.data(ctx.clinicId).select(whatsappNumbers).orderBy(asc(whatsappNumbers.createdAt), asc(whatsappNumbers.id));
    return rows.map(view);
  }

  async get(ctx: TenantContext, id: string): Promise<NumberView> {
    const row = await this.row(ctx.clinicId, id);
    this.channels.gateway();
    return view(row);
  }

  /** The number a webhook's connection belongs to (the receiver resolves the connection from the URL). */
  async byConnection(clinicId: string, connectionId: string): Promise<WhatsappNumber | undefined> {
    const [row] = await this.data(clinicId).select(whatsappNumbers, eq(whatsappNumbers.connectionId, connectionId));
    return row;
  }

  /**
   * Creates the instance (QR on, groups ignored, calls rejected) and points its webhook at us, signed
   * with a fresh per-connection secret. When Evolution fails, the connection and the number are
   * removed again (and the instance, if it was made): nothing is left half-made.
   */
  async create(ctx: TenantContext, input: { name?: string; professionalId?: string }): Promise<NumberView & { qr: LinkView | null }> {
    const gateway = this.channels.gateway();
    this.webhookBase();
    if (input.professionalId) await this.team.professional(ctx.clinicId, input.professionalId);
    const instanceName = `opb-${randomBytes(8).toString('hex')}`;
    const credentials: NumberCredentials = { instanceToken: secret(), webhookSecret: secret() };
    const connection = await this.connections.create(ctx.clinicId, { provider: 'evolution', label: input.name, credentials: { ...credentials }, webhook: true, config: { instanceName, gatewayUrl: this.channels.gatewayUrl } });
    let inserted: WhatsappNumber | undefined;
    let client: EvolutionInstance;
    try {
      [inserted] = await this.data(ctx.clinicId)
        .insert(whatsappNumbers, { connectionId: connection.id, instanceName, name: input.name ?? null, professionalId: input.professionalId ?? null })
        .returning();
      if (!inserted) throw new Error('insert returned nothing');
      // Our own token, so it is known even if the answer is lost; v2 echoes it as `hash`.
      const made = await gateway.createInstance({ instance: instanceName, token: credentials.instanceToken, groupsIgnore: true, rejectCall: true });
      if (made.token !== credentials.instanceToken) await this.connections.rotateCredentials(ctx.clinicId, connection.id, { ...credentials, instanceToken: made.token });
      client = gateway.forInstance(instanceName, made.token);
      await client.setWebhook({ url: this.webhookUrl(connection.webhookRef), headers: { jwt_key: credentials.webhookSecret }, events: WEBHOOK_EVENTS });
    } catch (err) {
      await this.undoCreate(ctx.clinicId, connection.id, instanceName);
      if (inserted) this.lookup.forget(inserted.id);
      gatewayError(err);
    }
    await this.connections.setStatus(ctx.clinicId, connection.id, 'active');
    const number = inserted;
    await this.data(ctx.clinicId).transaction(async (_data, tx) => {
      await this.audit.record(ctx, { action: 'whatsapp_number.created', entityType: 'whatsapp_number', entityId: number.id, details: { professionalId: number.professionalId } }, tx);
      await this.publish(tx, ctx.clinicId, number);
    });
    const qr = await this.firstQr(ctx.clinicId, number.id, client);
    return { ...view(await this.row(ctx.clinicId, number.id)), qr };
  }

  /** The QR right after creation; when Evolution is slow to give it, `GET /qr` asks again. */
  private async firstQr(clinicId: string, id: string, client: EvolutionInstance): Promise<LinkView | null> {
    try {
      return await this.link(clinicId, id, client, {});
    } catch (err) {
      if (!isEvolutionError(err)) throw err;
      this.infra.log.warn({ numberId: id, providerCode: err.code }, 'whatsapp: no QR right after creating the instance');
      return null;
    }
  }

  private async undoCreate(clinicId: string, connectionId: string, instanceName: string) {
    try {
      await this.channels.gateway().deleteInstance(instanceName);
    } catch (err) {
      // A create that timed out may have made the instance: an operator removes it by name.
      this.infra.log.warn({ instanceName, providerCode: isEvolutionError(err) ? err.code : 'error' }, 'whatsapp: could not remove the instance of a failed creation');
    }
    await this.connections.remove(clinicId, connectionId);
  }

  private async link(clinicId: string, id: string, client: EvolutionInstance, opts: { number?: string }): Promise<LinkView> {
    const result = await client.connect(opts);
    const event = eventOf(result);
    if (event) await this.applyConnectionEvent(clinicId, id, event);
    return linkView(result);
  }

  /** A QR to scan, or with `phone` a pairing code to type on the phone; `open` when already linked. */
  async qr(ctx: TenantContext, id: string, phone?: string): Promise<LinkView> {
    const { client } = await this.managed(ctx, id);
    return this.link(ctx.clinicId, id, client, phone ? { number: phone } : {}).catch(gatewayError);
  }

  /**
   * Repairs a number: an instance that is gone, or no longer takes its token, is created again under
   * the same name; the webhook is set again; then a QR (or `open`).
   */
  async reconnect(ctx: TenantContext, id: string): Promise<NumberView & { qr: LinkView }> {
    const { number, client: current } = await this.managed(ctx, id);
    try {
      const client = await this.ensureInstance(ctx.clinicId, number, current);
      const credentials = (await this.connections.credentials(ctx.clinicId, number.connectionId)) as unknown as NumberCredentials;
      const connection = await this.connections.get(ctx.clinicId, number.connectionId);
      await client.setWebhook({ url: this.webhookUrl(connection.webhookRef), headers: { jwt_key: credentials.webhookSecret }, events: WEBHOOK_EVENTS });
      const qr = await this.link(ctx.clinicId, id, client, {});
      await this.audit.record(ctx, { action: 'whatsapp_number.reconnected', entityType: 'whatsapp_number', entityId: id });
      return { ...view(await this.row(ctx.clinicId, id)), qr };
    } catch (err) {
      return gatewayError(err);
    }
  }

  private async ensureInstance(clinicId: string, number: WhatsappNumber, client: EvolutionInstance): Promise<EvolutionInstance> {
    try {
      await client.state();
      return client;
    } catch (err) {
      if (!isEvolutionError(err) || (err.code !== 'not_found' && err.code !== 'unauthorized')) throw err;
    }
    const gateway = this.channels.gateway();
    const credentials = (await this.connections.credentials(clinicId, number.connectionId)) as unknown as NumberCredentials;
    const instanceToken = secret();
    await gateway.deleteInstance(number.instanceName);
    const made = await gateway.createInstance({ instance: number.instanceName, token: instanceToken, groupsIgnore: !number.groupsEnabled, rejectCall: true });
    await this.connections.rotateCredentials(clinicId, number.connectionId, { ...credentials, instanceToken: made.token });
    await this.connections.setConfig(clinicId, number.connectionId, { instanceName: number.instanceName, gatewayUrl: this.channels.gatewayUrl });
    return gateway.forInstance(number.instanceName, made.token);
  }

  /** Unlinks the phone; the number, its conversations and history stay (a QR links it again). */
  async logout(ctx: TenantContext, id: string): Promise<NumberView> {
    const { client } = await this.managed(ctx, id);
    await client.logout().catch(gatewayError);
    const after = await this.applyConnectionEvent(ctx.clinicId, id, { state: 'close', reason: 'logged_out' });
    await this.audit.record(ctx, { action: 'whatsapp_number.logged_out', entityType: 'whatsapp_number', entityId: id });
    return after;
  }

  /**
   * Deletes the instance and the number. A number with conversations is refused (409): deleting it
   * would cascade to patients' message history; logging out keeps that history.
   */
  async remove(ctx: TenantContext, id: string): Promise<void> {
    const { number } = await this.managed(ctx, id);
    const [conversation] = await this.data(ctx.clinicId).pick({ id: conversations.id }, conversations, eq(conversations.numberId, id)).limit(1);
    if (conversation) throw conflict('number_has_conversations', 'Este número tem conversas com pacientes; desconecte-o em vez de excluí-lo para manter o histórico');
    await this.channels.gateway().deleteInstance(number.instanceName).catch(gatewayError);
    // The number goes with its connection (foreign key cascade).
    await this.connections.remove(ctx.clinicId, number.connectionId);
    this.lookup.forget(id);
    await this.audit.record(ctx, { action: 'whatsapp_number.deleted', entityType: 'whatsapp_number', entityId: id, details: { instanceName: number.instanceName } });
  }

  private publish(tx: Parameters<Infra['events']['publish']>[0], clinicId: string, row: WhatsappNumber) {
    return this.infra.events.publish(tx, 'whatsapp.number.updated', { id: row.id, state: row.state, professionalId: row.professionalId, reason: row.stateReason }, { clinicId });
  }

  /**
   * Moves a number's state (webhook `connection.update` / `qrcode.updated`, the probe, our own
   * calls). An event that changes nothing is a no-op, so redeliveries publish nothing; a change
   * publishes `whatsapp.number.updated` in its transaction.
   */
  async applyConnectionEvent(clinicId: string, numberId: string, event: ConnectionEvent): Promise<NumberView> {
    return this.data(clinicId).transaction(async (data, tx) => {
      const [row] = await data.select(whatsappNumbers, eq(whatsappNumbers.id, numberId)).for('update');
      if (!row) throw notFound('WhatsApp number');
      const next = nextState(row.state, event);
      const reason = reasonOf(event);
      const phone = (event.state === 'open' ? phoneOf(event.phone) : null) ?? row.phone;
      const changed = next !== null && (next !== row.state || reason !== row.stateReason);
      if (!changed && phone === row.phone) return view(row);
      const now = new Date();
      const [updated] = await data
        .update(
          whatsappNumbers,
          changed ? { state: next, stateReason: reason, stateChangedAt: now, phone, updatedAt: now } : { phone, updatedAt: now },
          eq(whatsappNumbers.id, numberId),
        )
        .returning();
      if (!updated) throw notFound('WhatsApp number');
      if (changed) await this.publish(tx, clinicId, updated);
      return view(updated);
    });
  }
}
