import { desc, eq, isNull } from 'drizzle-orm';
import { apiKeys } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { API_KEY_PREFIX, apiKeyCacheKey } from '../../http/auth.js';
import { notFound } from '../../lib/errors.js';
import { hashToken, randomToken } from '../../lib/tokens.js';
import type { AuditService } from '../audit/service.js';

const listColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  lastUsedAt: apiKeys.lastUsedAt,
  createdAt: apiKeys.createdAt,
};

export interface RevokedKey {
  id: string;
  keyHash: string;
}

export class ApiKeyService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  list(clinicId: string) {
    return this.data(clinicId).pick(listColumns, apiKeys, isNull(apiKeys.revokedAt)).orderBy(desc(apiKeys.createdAt));
  }

  /** The secret exists only in this answer; the database keeps its SHA-256. */
  async create(ctx: TenantContext, input: { name: string; scopes: string[] }) {
    const secret = `${API_KEY_PREFIX}${randomToken()}`;
    return this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data
        .insert(apiKeys, {
          name: input.name,
          prefix: secret.slice(0, 10),
          keyHash: hashToken(secret),
          scopes: [...new Set(input.scopes)],
          createdBy: ctx.actor.type === 'user' ? ctx.actor.userId : null,
        })
        .returning(listColumns);
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'api_key.created', entityType: 'api_key', entityId: row.id, details: { scopes: row.scopes } }, tx);
      return { ...row, key: secret };
    });
  }

  async revoke(ctx: TenantContext, id: string) {
    const row = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [revoked] = await data
        .update(apiKeys, { revokedAt: new Date() }, eq(apiKeys.id, id), isNull(apiKeys.revokedAt))
        .returning({ id: apiKeys.id, keyHash: apiKeys.keyHash });
      if (!revoked) throw notFound('API key');
      await this.audit.record(ctx, { action: 'api_key.revoked', entityType: 'api_key', entityId: id }, tx);
      return revoked;
    });
    await this.forget([row]);
  }

  /**
   * Inside the team change that takes a member's admin rights or membership away: the keys they
   * created are revoked with it. Call `forget` with the answer once the transaction has committed.
   */
  async revokeCreatedBy(tx: Tx, clinicId: string, userId: string): Promise<RevokedKey[]> {
    return new ClinicData(clinicId, tx)
      .update(apiKeys, { revokedAt: new Date() }, eq(apiKeys.createdBy, userId), isNull(apiKeys.revokedAt))
      .returning({ id: apiKeys.id, keyHash: apiKeys.keyHash });
  }

  /** Revoked keys stop working at once, on every instance (the authenticator caches keys for 60 s). */
  async forget(revoked: readonly RevokedKey[]): Promise<void> {
    await Promise.all(revoked.map((k) => this.infra.cache.del(apiKeyCacheKey(k.keyHash))));
    for (const k of revoked) this.infra.realtime.endApiKey(k.id);
  }
}
