import { createHash } from 'node:crypto';
import type { OAuth2Client } from 'google-auth-library';
import type { GoogleCalendarConnectionEvent } from '../../../shared/api/events.js';
import type { Infra } from '../../infra/index.js';
import type { Actor } from '../../lib/permissions.js';
import type { AuditService } from '../audit/service.js';
import { googleConfigured, googleOAuthClient } from '../integrations/google-oauth.js';
import { isProviderError } from './client.js';
import { GoogleCalendarClient } from './client.js';
import type { ConnectionView, IntegrationService } from '../integrations/service.js';

export const PROVIDER = 'google_calendar' as const;

/**
 * The professionals' Google connections as the sync needs them: one OAuth client per connection
 * (kept, so its access token is reused until it expires and refreshed by the library), the
 * Calendar client on top, and what happens when Google says the grant is gone.
 */
export class GoogleAccess {
  private readonly clients = new Map<string, { fingerprint: string; oauth: OAuth2Client; calendar: GoogleCalendarClient }>();

  constructor(
    private readonly infra: Pick<Infra, 'config' | 'db' | 'events' | 'log'>,
    readonly connections: IntegrationService,
    private readonly audit: AuditService,
  ) {}

  get configured() {
    return googleConfigured(this.infra.config);
  }

  /** A professional's link in this clinic, if any (one per professional). */
  async connectionOf(clinicId: string, professionalId: string): Promise<ConnectionView | undefined> {
    return (await this.connections.list(clinicId, { provider: PROVIDER, ownerUserId: professionalId }))[0];
  }

  /** The Calendar client of a connection, authorised by its stored refresh token. */
  async calendar(clinicId: string, connectionId: string): Promise<GoogleCalendarClient> {
    const { refreshToken } = await this.connections.credentials(clinicId, connectionId);
    if (!refreshToken) throw new Error('google connection without a refresh token');
    const fingerprint = createHash('sha256').update(refreshToken).digest('base64url');
    const cached = this.clients.get(connectionId);
    if (cached?.fingerprint === fingerprint) return cached.calendar;
    const oauth = googleOAuthClient(this.infra.config);
    oauth.setCredentials({ refresh_token: refreshToken });
    const calendar = new GoogleCalendarClient(oauth, this.infra.config.google.apiRootUrl);
    this.clients.set(connectionId, { fingerprint, oauth, calendar });
    return calendar;
  }

  /** Revokes the grant at Google (best effort: the link is removed either way). */
  async revoke(clinicId: string, connectionId: string): Promise<void> {
    try {
      const { refreshToken } = await this.connections.credentials(clinicId, connectionId);
      if (refreshToken) await googleOAuthClient(this.infra.config).revokeToken(refreshToken);
    } catch (err) {
      this.infra.log.warn({ connectionId, err: { message: (err as Error).message } }, 'google token revocation failed');
    }
    this.clients.delete(connectionId);
  }

  forget(connectionId: string) {
    this.clients.delete(connectionId);
  }

  /**
   * `invalid_grant` (revoked, password changed, testing app expired): the connection is `broken`,
   * the professional is told (socket and audit) once, and sync stops until they reconnect. Returns
   * whether the error was that, so callers stop without throwing (no retries piling up).
   */
  async brokenBy(clinicId: string, connection: { id: string; ownerUserId: string | null; status: string }, err: unknown): Promise<boolean> {
    if (!isProviderError(err, 'unauthorized')) return false;
    if (connection.status === 'broken') return true;
    await this.connections.recordError(clinicId, connection.id, (err as Error).message);
    this.forget(connection.id);
    await this.announce(clinicId, null, { id: connection.id, ownerUserId: connection.ownerUserId ?? '', status: 'broken', reason: 'invalid_grant' }, 'google_calendar.broken');
    this.infra.log.warn({ clinicId, connectionId: connection.id }, 'google calendar connection broken: grant revoked or expired');
    return true;
  }

  /** The connection's new state, as a domain event (socket) and an audit row, in one transaction. */
  async announce(clinicId: string, actor: Actor | null, payload: GoogleCalendarConnectionEvent, action: string, requestId: string | null = null) {
    await this.infra.db.transaction(async (tx) => {
      await this.audit.record({ clinicId, actor }, { action, entityType: 'integration_connection', entityId: payload.id, details: { ownerUserId: payload.ownerUserId, status: payload.status } }, tx);
      await this.infra.events.publish(tx, 'google_calendar.connection_updated', payload, { clinicId, actor, requestId });
    });
  }
}
