import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { Integrations } from '../integrations/module.js';
import type { Module } from '../module.js';
import type { TeamService } from '../team/service.js';
import { Channels } from './channels.js';
import { whatsappJobs } from './jobs.js';
import { NumberLookup } from './lookup.js';
import { NumberService } from './numbers.js';
import { NumberProbe } from './probe.js';
import { numberRoutes } from './routes.js';

export interface Whatsapp {
  numbers: NumberService;
  /** `forNumber(clinicId, numberId)`: the number, its instance and a client under its own token. */
  channels: Channels;
  probe: NumberProbe;
  /** The number of a webhook delivery, cached per process (ingestion asks it for every delivery). */
  lookup: NumberLookup;
}

/** WhatsApp over Evolution API v2: numbers (instances), their state and the client (docs/whatsapp.md). */
export function whatsappModule(infra: Infra, deps: { audit: AuditService; team: TeamService; integrations: Integrations }): Module<{ whatsapp: Whatsapp }> {
  const channels = new Channels(infra, deps.integrations.connections);
  const lookup = new NumberLookup(infra);
  const numbers = new NumberService(infra, deps.integrations.connections, channels, deps.team, deps.audit, lookup);
  const probe = new NumberProbe(infra, channels, numbers, deps.integrations.connections);
  return { name: 'whatsapp', services: { whatsapp: { numbers, channels, probe, lookup } }, routes: numberRoutes(numbers), jobs: whatsappJobs(infra, probe) };
}
