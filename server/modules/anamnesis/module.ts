import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Module } from '../module.js';
import { anamnesisRoutes } from './routes.js';
import { AnamnesisService } from './service.js';
import { TemplateService } from './templates.js';

/** Anamnesis templates, forms sent to patients and their answers. */
export function anamnesisModule(
  infra: Infra,
  deps: { audit: AuditService; contacts: ContactService; clinic: ClinicService },
): Module<{ anamnesisTemplates: TemplateService; anamnesis: AnamnesisService }> {
  const anamnesisTemplates = new TemplateService(infra, deps.audit);
  const anamnesis = new AnamnesisService(infra, deps.audit, deps.contacts, anamnesisTemplates, deps.clinic);
  return {
    name: 'anamnesis',
    services: { anamnesisTemplates, anamnesis },
    routes: anamnesisRoutes(anamnesisTemplates, anamnesis),
    provides: {
      timeline: { anamnesis: (ctx, contactId) => anamnesis.timelineItems(ctx, contactId) },
      anonymizers: [(tx, ctx, contactId, redact) => anamnesis.anonymize(tx, ctx.clinicId, contactId, redact)],
      clinicalHistory: [(clinicId, contactId) => anamnesis.hasResponses(clinicId, contactId)],
    },
  };
}
