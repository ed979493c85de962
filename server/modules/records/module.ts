import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { ContactService } from '../contacts/service.js';
import type { FileService } from '../files/service.js';
import type { Module } from '../module.js';
import type { Scheduling } from '../scheduling/module.js';
import { recordRoutes } from './routes.js';
import { RecordService } from './service.js';

/** Medical records: drafts, signatures, addenda, attachments and their hash chain. */
export function recordsModule(
  infra: Infra,
  deps: { audit: AuditService; contacts: ContactService; files: FileService; scheduling: Scheduling },
): Module<{ records: RecordService }> {
  const records = new RecordService(infra, deps.audit, deps.contacts, deps.files, deps.scheduling.appointments);
  return {
    name: 'records',
    services: { records },
    routes: recordRoutes(records),
    provides: {
      timeline: { medical_record: (ctx, contactId) => records.timelineItems(ctx, contactId) },
      anonymizers: [(tx, ctx, contactId, redact) => records.anonymize(tx, ctx, contactId, redact)],
      clinicalHistory: [(clinicId, contactId) => records.hasRecords(clinicId, contactId)],
      fileAccessGuards: [(ctx, fileId, operation) => records.guardAttachment(ctx, fileId, operation)],
    },
  };
}
