import { randomBytes } from 'node:crypto';
import { and, eq, type SQL } from 'drizzle-orm';
import { integrationConnections, memberships, type IntegrationProvider, type IntegrationStatus } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { notFound } from '../../lib/errors.js';
import type { WebhookConnection, WebhookConnections } from '../../http/route.js';
import { TtlCache } from '../../lib/ttl-cache.js';

export type Credentials = Record<string, string>;

/** A connection as callers see it: everything but the credentials. */
export interface ConnectionView {
  id: string;
  provider: IntegrationProvider;
  ownerUserId: string | null;
  label: string | null;
  status: IntegrationStatus;
  lastError: string | null;
  lastErrorAt: Date | null;
  hasCredentials: boolean;
  webhookRef: string | null;
  config: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewConnection {
  provider: IntegrationProvider;
  /** A professional's own connection (their Google calendar); omitted for the clinic's. */
  ownerUserId?: string | null;
  label?: string;
  credentials?: Credentials;
  config?: Record<string, unknown>;
  /** Gives the connection a public reference for its inbound webhook URL. */
  webhook?: boolean;
}

const MAX_ERROR_LENGTH = 500;

const view = (row: typeof integrationConnections.$inferSelect): ConnectionView => ({
  id: row.id,
  provider: row.provider,
  ownerUserId: row.ownerUserId,
  label: row.label,
  status: row.status,
  lastError: row.lastError,
  lastErrorAt: row.lastErrorAt,
  hasCredentials: row.credentials !== null,
  webhookRef: row.webhookRef,
  config: row.config,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** A Standard Webhooks secret (`whsec_` + base64 of 32 random bytes). */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * A clinic's connections to external systems. Credentials are sealed with SecretBox on the way in
 * and opened only for the provider code that needs them (`credentials`, `resolveWebhook`); no method
 * that answers a caller returns them.
 */
export class IntegrationService implements WebhookConnections {
  /** `resolveWebhook` answers by `<provider>:<ref>`, so a webhook's acknowledgement costs no lookup; dropped on any change here. */
  private readonly webhookConnections: TtlCache<WebhookConnection>;

  constructor(private readonly infra: Pick<Infra, 'db' | 'systemDb' | 'secrets' | 'config'>) {
    this.webhookConnections = new TtlCache(infra.config.webhookLookupCacheMs);
  }

  /** Forgets what `resolveWebhook` keeps of a connection (done by every change below; call it after writing one elsewhere). */
  forget(connectionId: string): void {
    this.webhookConnections.invalidate((_key, c) => c.id === connectionId);
  }

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private seal = (credentials: Credentials) => this.infra.secrets.seal(JSON.stringify(credentials));

  private async row(clinicId: string, id: string) {
    const [row] = await this.data(clinicId).select(integrationConnections, eq(integrationConnections.id, id));
    if (!row) throw notFound('Connection');
    return row;
  }

  async create(clinicId: string, input: NewConnection): Promise<ConnectionView> {
    const data = this.data(clinicId);
    if (input.ownerUserId) {
      const [member] = await data.pick({ id: memberships.id }, memberships, eq(memberships.userId, input.ownerUserId), eq(memberships.active, true));
      if (!member) throw notFound('Member');
    }
    const [row] = await data
      .insert(integrationConnections, {
        provider: input.provider,
        ownerUserId: input.ownerUserId ?? null,
        label: input.label ?? null,
        credentials: input.credentials ? this.seal(input.credentials) : null,
        webhookRef: input.webhook ? randomBytes(32).toString('base64url') : null,
        config: input.config ?? {},
      })
      .returning();
    if (!row) throw new Error('insert returned nothing');
    return view(row);
  }

  async get(clinicId: string, id: string): Promise<ConnectionView> {
    return view(await this.row(clinicId, id));
  }

  async list(clinicId: string, filter: { provider?: IntegrationProvider; ownerUserId?: string } = {}): Promise<ConnectionView[]> {
    const where: SQL[] = [];
    if (filter.provider) where.push(eq(integrationConnections.provider, filter.provider));
    if (filter.ownerUserId) where.push(eq(integrationConnections.ownerUserId, filter.ownerUserId));
    const rows = await this.data(clinicId)
      .select(integrationConnections, ...where)
      .orderBy(integrationConnections.createdAt);
    return rows.map(view);
  }

  private async update(clinicId: string, id: string, set: Partial<typeof integrationConnections.$inferInsert>): Promise<ConnectionView> {
    const [row] = await this.data(clinicId)
      .update(integrationConnections, { ...set, updatedAt: new Date() }, eq(integrationConnections.id, id))
      .returning();
    // After the write: a load that raced it cannot keep the old row.
    this.forget(id);
    if (!row) throw notFound('Connection');
    return view(row);
  }

  /** `active` also clears the last error: the connection works again. */
  setStatus(clinicId: string, id: string, status: IntegrationStatus): Promise<ConnectionView> {
    return this.update(clinicId, id, status === 'active' ? { status, lastError: null, lastErrorAt: null } : { status });
  }

  /** Notes a short reason on the connection without changing its status (the provider is down, not the connection). */
  noteError(clinicId: string, id: string, message: string | null): Promise<ConnectionView> {
    return this.update(clinicId, id, { lastError: message?.slice(0, MAX_ERROR_LENGTH) ?? null, lastErrorAt: message ? new Date() : null });
  }

  /** Marks the connection broken with a short reason; pass provider error codes, never tokens or message text. */
  recordError(clinicId: string, id: string, message: string): Promise<ConnectionView> {
    return this.update(clinicId, id, { status: 'broken', lastError: message.slice(0, MAX_ERROR_LENGTH), lastErrorAt: new Date() });
  }

  rotateCredentials(clinicId: string, id: string, credentials: Credentials): Promise<ConnectionView> {
    return this.update(clinicId, id, { credentials: this.seal(credentials) });
  }

  /** Replaces the non-secret settings (instance name, gateway...). */
  setConfig(clinicId: string, id: string, config: Record<string, unknown>): Promise<ConnectionView> {
    return this.update(clinicId, id, { config });
  }

  /** Deletes the connection; what hangs on it (sync state, a WhatsApp number, webhook deliveries) goes by cascade. */
  async remove(clinicId: string, id: string): Promise<void> {
    const [row] = await this.data(clinicId).delete(integrationConnections, eq(integrationConnections.id, id)).returning({ id: integrationConnections.id });
    this.forget(id);
    if (!row) throw notFound('Connection');
  }

  /** The decrypted credentials, for the provider client of this connection only. */
  async credentials(clinicId: string, id: string): Promise<Credentials> {
    const row = await this.row(clinicId, id);
    return row.credentials ? (JSON.parse(this.infra.secrets.open(row.credentials)) as Credentials) : {};
  }

  /**
   * The connection an inbound webhook URL names. Unscoped on purpose: the caller is the external
   * system, and this is how the clinic is found (never from the payload). Disabled ones are unknown.
   */
  resolveWebhook(provider: IntegrationProvider, ref: string): Promise<WebhookConnection | undefined> {
    return this.webhookConnections.get(`${provider}:${ref}`, () => this.loadWebhook(provider, ref));
  }

  private async loadWebhook(provider: IntegrationProvider, ref: string): Promise<WebhookConnection | undefined> {
    const [row] = await this.infra.systemDb
      .select()
      .from(integrationConnections)
      .where(and(eq(integrationConnections.webhookRef, ref), eq(integrationConnections.provider, provider)));
    if (!row || row.status === 'disabled') return undefined;
    return {
      id: row.id,
      clinicId: row.clinicId,
      provider: row.provider,
      ownerUserId: row.ownerUserId,
      credentials: row.credentials ? (JSON.parse(this.infra.secrets.open(row.credentials)) as Credentials) : {},
    };
  }
}
