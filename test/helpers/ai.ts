import { randomUUID } from 'node:crypto';
import { integrationConnections, whatsappNumbers } from '../../shared/schema/index.js';
import { ClinicData } from '../../server/infra/clinic-data.js';
import type { TestClinic } from './clinic.js';

/** A linked WhatsApp number of the clinic, written as the numbers feature stores one. */
export async function createWhatsappNumber(clinic: TestClinic): Promise<string> {
  const data = new ClinicData(clinic.id, clinic.app.infra.db);
  const [connection] = await data.insert(integrationConnections, { provider: 'evolution', status: 'active' }).returning();
  if (!connection) throw new Error('no connection');
  const [number] = await data.insert(whatsappNumbers, { connectionId: connection.id, instanceName: `inst-${randomUUID()}`, state: 'open' }).returning();
  if (!number) throw new Error('no number');
  return number.id;
}
