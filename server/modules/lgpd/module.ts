import { idempotencyKeys, outbox } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { AnamnesisService } from '../anamnesis/service.js';
import type { AuditService } from '../audit/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Module, Providers } from '../module.js';
import type { RecordService } from '../records/service.js';
import { redactKeptJson } from './kept-json.js';
import { lgpdRoutes } from './routes.js';
import { LgpdService } from './service.js';

/**
 * The patient's LGPD rights: export and anonymisation. Features add export sections and
 * anonymisers through their manifests; this module redacts what the platform keeps itself: the
 * outbox's event payloads and the stored answers of idempotent requests.
 */
export function lgpdModule(
  infra: Infra,
  deps: { audit: AuditService; contacts: ContactService; records: RecordService; anamnesis: AnamnesisService; providers: Providers },
): Module<{ lgpd: LgpdService }> {
  const lgpd = new LgpdService(infra, deps.audit, deps.contacts, deps.records, deps.anamnesis, deps.providers);
  return {
    name: 'lgpd',
    services: { lgpd },
    routes: lgpdRoutes(lgpd),
    provides: {
      anonymizers: [
        // All the clinic's kept rows, not only the patient's own: a file's name or an appointment's
        // `contactName` in another event can name the patient too.
        (tx, ctx, _contactId, redact) => redactKeptJson(tx, ctx.clinicId, outbox, 'payload', redact),
        (tx, ctx, _contactId, redact) => redactKeptJson(tx, ctx.clinicId, idempotencyKeys, 'responseBody', redact),
      ],
    },
  };
}
