import { and, arrayContains, asc, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { WEBHOOK_EVENT_TYPES, type subscriptionBody, type subscriptionPatch } from '../../../shared/api/webhooks.js';
import { webhookSubscriptions, type WebhookAuthMode } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { systemContext, type TenantContext } from '../../http/context.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { checkUrl, SafeFetchError } from '../../lib/safe-fetch.js';
import { TtlCache } from '../../lib/ttl-cache.js';
import type { AuditService } from '../audit/service.js';
import { newSecret, type SigningKeys } from './signing.js';

export type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
type Body = z.infer<typeof subscriptionBody>;
type Patch = z.infer<typeof subscriptionPatch>;

const KNOWN = new Set<string>(WEBHOOK_EVENT_TYPES);

/** A subscription as deliveries use it: the row and its secrets opened once. */
export interface DeliveryTarget {
  row: SubscriptionRow;
  secret: string;
  previousSecret: string | null;
  headerValue: string | null;
}

export function subscriptionView(r: SubscriptionRow) {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    events: r.events,
    active: r.active,
    disabledReason: r.disabledReason,
    authMode: r.authMode,
    headerName: r.headerName,
    previousSecretExpiresAt: r.previousSecret && r.previousSecretExpiresAt && r.previousSecretExpiresAt > new Date() ? r.previousSecretExpiresAt.toISOString() : null,
    consecutiveFailures: r.consecutiveFailures,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** A clinic's webhook endpoints: targets checked against the inside, secrets sealed and shown once. */
export class SubscriptionService {
  /**
   * Deliveries read their subscription here, kept per process for WEBHOOK_SUBSCRIPTION_CACHE_MS:
   * every change this service makes drops the entry at once; another instance's change (a switch-off,
   * a new URL or secret) applies here within that time.
   */
  private readonly targets: TtlCache<DeliveryTarget>;

  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {
    this.targets = new TtlCache(infra.config.webhooks.subscriptionCacheMs);
  }

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async list(clinicId: string) {
    const rows = await this.data(clinicId).select(webhookSubscriptions).orderBy(asc(webhookSubscriptions.createdAt));
    return rows.map(subscriptionView);
  }

  async find(clinicId: string, id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.data(clinicId).select(webhookSubscriptions, eq(webhookSubscriptions.id, id));
    return row;
  }

  /** The subscription with its secrets opened, for a delivery (cached, see `targets`). */
  target(clinicId: string, id: string): Promise<DeliveryTarget | undefined> {
    return this.targets.get(`${clinicId}:${id}`, async () => {
      const row = await this.find(clinicId, id);
      if (!row) return undefined;
      const open = (sealed: string | null) => (sealed ? this.infra.secrets.open(sealed) : null);
      return { row, secret: this.infra.secrets.open(row.secret), previousSecret: open(row.previousSecret), headerValue: open(row.headerValue) };
    });
  }

  /** Drops a subscription's cached target: called by every change below. */
  forget(id: string): void {
    this.targets.invalidate((_key, target) => target.row.id === id);
  }

  async row(clinicId: string, id: string): Promise<SubscriptionRow> {
    const row = await this.find(clinicId, id);
    if (!row) throw notFound('Webhook subscription');
    return row;
  }

  async get(clinicId: string, id: string) {
    return subscriptionView(await this.row(clinicId, id));
  }

  /** Active subscriptions of the clinic listening to one event type. */
  listening(clinicId: string, type: string) {
    return this.data(clinicId).pick({ id: webhookSubscriptions.id }, webhookSubscriptions, eq(webhookSubscriptions.active, true), arrayContains(webhookSubscriptions.events, [type]));
  }

  async create(ctx: TenantContext, body: Body) {
    const events = this.checkEvents(body.events);
    const url = await this.checkTarget(body.url);
    const authMode = body.authMode ?? 'standard';
    const header = this.checkHeader(authMode, body.headerName, body.headerValue);
    const secret = body.secret ?? newSecret();
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [created] = await data
        .insert(webhookSubscriptions, {
          url,
          events,
          description: body.description ?? null,
          active: body.active ?? true,
          secret: this.infra.secrets.seal(secret),
          authMode,
          ...header,
          createdBy: ctx.actor.type === 'user' ? ctx.actor.userId : null,
        })
        .returning();
      if (!created) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'webhook_subscription.created', entityType: 'webhook_subscription', entityId: created.id, details: { events, authMode } }, tx);
      return created;
    });
    return { ...subscriptionView(row), secret };
  }

  async update(ctx: TenantContext, id: string, patch: Patch) {
    const current = await this.row(ctx.clinicId, id);
    const authMode = patch.authMode ?? current.authMode;
    const set: Partial<typeof webhookSubscriptions.$inferInsert> = { updatedAt: new Date() };
    if (patch.events) set.events = this.checkEvents(patch.events);
    if (patch.url !== undefined) set.url = await this.checkTarget(patch.url);
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.authMode || patch.headerName || patch.headerValue) {
      const value = patch.headerValue ?? (current.headerValue ? this.infra.secrets.open(current.headerValue) : undefined);
      Object.assign(set, { authMode, ...this.checkHeader(authMode, patch.headerName ?? current.headerName, value) });
    }
    // Switched back on by an admin: the failure count starts again.
    if (patch.active !== undefined) Object.assign(set, { active: patch.active, ...(patch.active ? { disabledReason: null, consecutiveFailures: 0 } : {}) });
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [updated] = await data.update(webhookSubscriptions, set, eq(webhookSubscriptions.id, id)).returning();
      if (!updated) throw notFound('Webhook subscription');
      await this.audit.record(ctx, { action: 'webhook_subscription.updated', entityType: 'webhook_subscription', entityId: id, details: { fields: Object.keys(patch) } }, tx);
      return updated;
    });
    this.forget(id);
    return subscriptionView(row);
  }

  async remove(ctx: TenantContext, id: string) {
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [gone] = await data.delete(webhookSubscriptions, eq(webhookSubscriptions.id, id)).returning({ id: webhookSubscriptions.id });
      if (!gone) throw notFound('Webhook subscription');
      await this.audit.record(ctx, { action: 'webhook_subscription.deleted', entityType: 'webhook_subscription', entityId: id }, tx);
    });
    this.forget(id);
  }

  /** A new secret, shown in this answer only; the old one keeps signing beside it for `graceHours`. */
  async rotate(ctx: TenantContext, id: string, graceHours: number) {
    const current = await this.row(ctx.clinicId, id);
    const secret = newSecret();
    const grace = graceHours > 0;
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [updated] = await data
        .update(
          webhookSubscriptions,
          {
            secret: this.infra.secrets.seal(secret),
            previousSecret: grace ? current.secret : null,
            previousSecretExpiresAt: grace ? new Date(Date.now() + graceHours * 3600_000) : null,
            updatedAt: new Date(),
          },
          eq(webhookSubscriptions.id, id),
        )
        .returning();
      if (!updated) throw notFound('Webhook subscription');
      await this.audit.record(ctx, { action: 'webhook_subscription.secret_rotated', entityType: 'webhook_subscription', entityId: id, details: { graceHours } }, tx);
      return updated;
    });
    this.forget(id);
    return { ...subscriptionView(row), secret };
  }

  /** The secrets that sign now (newest first: the previous one until its grace period ends) and the auth mode's extras. */
  keys({ row, secret, previousSecret, headerValue }: DeliveryTarget, now = new Date()): SigningKeys {
    const previous = previousSecret && row.previousSecretExpiresAt && row.previousSecretExpiresAt > now ? [previousSecret] : [];
    return { secrets: [secret, ...previous], authMode: row.authMode, headerName: row.headerName, headerValue, clinicId: row.clinicId };
  }

  /** A delivered message: the run of failures ends. */
  async succeeded(clinicId: string, id: string) {
    await this.data(clinicId).update(webhookSubscriptions, { consecutiveFailures: 0 }, eq(webhookSubscriptions.id, id), sql`${webhookSubscriptions.consecutiveFailures} > 0`);
    this.forget(id);
  }

  /** A delivery that ended failed; returns the subscription when this failure switched it off. */
  async failed(clinicId: string, id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.data(clinicId)
      .update(webhookSubscriptions, { consecutiveFailures: sql`${webhookSubscriptions.consecutiveFailures} + 1` }, eq(webhookSubscriptions.id, id))
      .returning();
    this.forget(id);
    if (!row || row.consecutiveFailures < this.infra.config.webhooks.disableAfterFailures) return undefined;
    return this.disable(clinicId, id, 'failing');
  }

  /** Switched off by the system (410, or too many failures); audited as `system:webhooks`. Undefined when it already was off. */
  async disable(clinicId: string, id: string, reason: 'gone' | 'failing'): Promise<SubscriptionRow | undefined> {
    const disabled = await this.data(clinicId).transaction(async (data, tx) => {
      const [row] = await data
        .update(webhookSubscriptions, { active: false, disabledReason: reason, updatedAt: new Date() }, and(eq(webhookSubscriptions.id, id), eq(webhookSubscriptions.active, true)))
        .returning();
      if (row) await this.audit.record(systemContext(clinicId, 'webhooks', null), { action: 'webhook_subscription.disabled', entityType: 'webhook_subscription', entityId: id, details: { reason } }, tx);
      return row;
    });
    this.forget(id);
    return disabled;
  }

  private checkEvents(events: string[]): string[] {
    const unknown = events.filter((e) => !KNOWN.has(e));
    if (unknown.length > 0) throw badRequest('unknown_event', `Unknown event: ${unknown.join(', ')}`, { unknown, known: WEBHOOK_EVENT_TYPES });
    return [...new Set(events)];
  }

  private checkHeader(mode: WebhookAuthMode, name: string | null | undefined, value: string | undefined) {
    if (mode !== 'header') return { headerName: null, headerValue: null };
    if (!name || !value) throw badRequest('header_required', 'Header mode needs headerName and headerValue (the N8N Header Auth credential)');
    return { headerName: name.toLowerCase(), headerValue: this.infra.secrets.seal(value) };
  }

  /** http(s) only, and never inside the network after resolution unless OUTBOUND_ALLOW_HOSTS opens it. */
  async checkTarget(raw: string): Promise<string> {
    try {
      return (await checkUrl(raw, { allowHosts: this.infra.config.outboundAllowHosts })).href;
    } catch (err) {
      if (!(err instanceof SafeFetchError)) throw err;
      if (err.code === 'blocked_address') throw badRequest('url_not_allowed', `${err.message}: webhooks cannot target the inside of the network (OUTBOUND_ALLOW_HOSTS opens intranet hosts)`);
      if (err.code === 'unreachable') throw badRequest('url_unresolvable', err.message);
      throw badRequest('invalid_url', 'The URL must be a valid http or https URL without credentials');
    }
  }
}
