import { and, eq, sql } from 'drizzle-orm';
import { integrationConnections, whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { AppError } from '../../lib/errors.js';
import type { IntegrationService } from '../integrations/service.js';
import type { Channels } from './channels.js';
import { isEvolutionError } from './evolution-errors.js';
import type { NumberService, NumberView } from './numbers.js';
import type { ConnectionEvent } from './state.js';

const PROBE_CONCURRENCY = 4;

/** A probe failure that says something about the number itself; none for a gateway outage. */
function probeVerdict(err: unknown): ConnectionEvent | undefined {
  if (err instanceof AppError && err.code === 'number_not_connected') return { state: 'broken', reason: 'credentials_missing' };
  if (err instanceof AppError && err.code === 'not_found') return undefined;
  if (!isEvolutionError(err)) throw err;
  if (err.code === 'unauthorized') return { state: 'broken', reason: 'unauthorized' };
  if (err.code === 'not_found') return { state: 'broken', reason: 'instance_not_found' };
  if (err.code === 'license_required') return { state: 'broken', reason: 'license_required' };
  return undefined;
}

/** What the gateway says about each number, applied through `NumberService.applyConnectionEvent`. */
export class NumberProbe {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'systemDb' | 'log'>,
    private readonly channels: Channels,
    private readonly numbers: Pick<NumberService, 'applyConnectionEvent'>,
    private readonly connections: Pick<IntegrationService, 'noteError'>,
  ) {}

  /**
   * Asks Evolution every number's real state (a phone can look linked while its session is dead):
   * a change moves the number; a revoked token, a vanished instance or an unlicensed gateway make
   * it `broken` with that reason. A gateway that does not answer changes nothing: its outage is
   * not the numbers' state. Across clinics on purpose (a repeatable job, once per cluster), or one
   * clinic's numbers on demand.
   */
  async probeAll(clinicId?: string): Promise<{ probed: number; changed: number; unreachable: number }> {
    const totals = { probed: 0, changed: 0, unreachable: 0 };
    if (!this.channels.configured) return totals;
    // A connection turns active once its instance and webhook exist (numbers still being created are
    // skipped); a number made on another gateway is not judged by this one.
    const rows = await this.infra.systemDb
      .select({ id: whatsappNumbers.id, clinicId: whatsappNumbers.clinicId, state: whatsappNumbers.state, stateReason: whatsappNumbers.stateReason })
      .from(whatsappNumbers)
      .innerJoin(
        integrationConnections,
        and(
          eq(integrationConnections.id, whatsappNumbers.connectionId),
          eq(integrationConnections.status, 'active'),
          sql`${integrationConnections.config}->>'gatewayUrl' = ${this.channels.gatewayUrl}`,
          clinicId ? new ClinicData(clinicId, this.infra.db).owns(whatsappNumbers) : undefined,
        ),
      );
    for (let i = 0; i < rows.length; i += PROBE_CONCURRENCY) {
      await Promise.all(
        rows.slice(i, i + PROBE_CONCURRENCY).map(async (row) => {
          const outcome = await this.probe(row.clinicId, row.id);
          totals.probed += 1;
          if (outcome === 'unreachable') totals.unreachable += 1;
          else if (outcome.state !== row.state || outcome.stateReason !== row.stateReason) totals.changed += 1;
        }),
      );
    }
    return totals;
  }

  /**
   * One number's probe: its new view, or `unreachable` when the gateway gave no verdict. An outage
   * shows on the number (`gatewayError`) and on its connection (`lastError`, status unchanged)
   * until the gateway answers again.
   */
  async probe(clinicId: string, id: string): Promise<NumberView | 'unreachable'> {
    let event: ConnectionEvent | undefined;
    let outage: string | null = null;
    try {
      const { client } = await this.channels.forNumber(clinicId, id, { anyState: true });
      event = { state: await client.state() };
    } catch (err) {
      event = probeVerdict(err);
      if (!event) {
        outage = `gateway_${isEvolutionError(err) ? err.code : 'error'}`;
        this.infra.log.warn({ numberId: id, providerCode: outage }, 'whatsapp: probe got no answer');
      }
    }
    const data = new ClinicData(clinicId, this.infra.db);
    const [before] = await data.pick({ connectionId: whatsappNumbers.connectionId, gatewayError: whatsappNumbers.gatewayError }, whatsappNumbers, eq(whatsappNumbers.id, id));
    await data.update(whatsappNumbers, { lastProbeAt: new Date(), gatewayError: outage }, eq(whatsappNumbers.id, id));
    // The connection is written only when the outage starts, changes or ends.
    if (before && before.gatewayError !== outage) await this.connections.noteError(clinicId, before.connectionId, outage && `${outage}: Evolution API did not answer the state probe`);
    return event ? this.numbers.applyConnectionEvent(clinicId, id, event) : 'unreachable';
  }
}
