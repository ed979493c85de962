import { and, eq } from 'drizzle-orm';
import { integrationConnections, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { TtlCache } from '../../lib/ttl-cache.js';

/** What ingestion needs of a number. */
export type NumberRow = { id: string; instanceName: string; groupsEnabled: boolean };

type Cached = NumberRow & { connectionId: string };

/**
 * The number an Evolution webhook is for, kept per process for `WEBHOOK_LOOKUP_CACHE_MS`: the
 * receiver and the ingest job ask it for every delivery. Unknown instances are never kept (a number
 * created a moment ago gets its first webhook). Whoever changes a number's instance, connection or
 * `groups_enabled`, or deletes it, calls `forget` (NumberService does).
 */
export class NumberLookup {
  private readonly byConnection: TtlCache<Cached>;
  /** Global webhook: instance name -> its connection's webhook reference. */
  private readonly refs: TtlCache<{ ref: string; numberId: string }>;

  constructor(private readonly infra: Pick<Infra, 'db' | 'systemDb' | 'config'>) {
    this.byConnection = new TtlCache(infra.config.webhookLookupCacheMs);
    this.refs = new TtlCache(infra.config.webhookLookupCacheMs);
  }

  /** The clinic's number of this connection with this instance name. */
  async find(clinicId: string, connectionId: string, instance: string): Promise<NumberRow | undefined> {
    const row = await this.byConnection.get(`${clinicId}:${connectionId}:${instance}`, async () => {
      const [found] = await new ClinicData(clinicId, this.infra.db).pick(
        { id: whatsappNumbers.id, instanceName: whatsappNumbers.instanceName, groupsEnabled: whatsappNumbers.groupsEnabled, connectionId: whatsappNumbers.connectionId },
        whatsappNumbers,
        eq(whatsappNumbers.connectionId, connectionId),
        eq(whatsappNumbers.instanceName, instance),
      );
      return found;
    });
    return row && { id: row.id, instanceName: row.instanceName, groupsEnabled: row.groupsEnabled };
  }

  /** Any clinic's Evolution connection reference for an instance name (the global webhook names only the instance). */
  async refOf(instance: string): Promise<string | undefined> {
    const row = await this.refs.get(instance, async () => {
      const [found] = await this.infra.systemDb
        .select({ ref: integrationConnections.webhookRef, numberId: whatsappNumbers.id })
        .from(whatsappNumbers)
        .innerJoin(integrationConnections, eq(integrationConnections.id, whatsappNumbers.connectionId))
        .where(and(eq(whatsappNumbers.instanceName, instance), eq(integrationConnections.provider, 'evolution')));
      return found?.ref ? { ref: found.ref, numberId: found.numberId } : undefined;
    });
    return row?.ref;
  }

  forget(numberId: string): void {
    this.byConnection.invalidate((_key, row) => row.id === numberId);
    this.refs.invalidate((_key, row) => row.numberId === numberId);
  }
}
