import type { Infra } from '../../infra/index.js';
import type { AiConfigService } from '../ai/config.js';
import type { AiUsageService } from '../ai/usage.js';
import type { AnamnesisService } from '../anamnesis/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Module } from '../module.js';
import type { RecordService } from '../records/service.js';
import { clinicalAssistantRoutes } from './routes.js';
import { ClinicalAssistant } from './service.js';

/** The professional's record assistant: `POST /contacts/:id/assistant` (docs/ai.md). */
export function clinicalAssistantModule(
  infra: Infra,
  deps: { records: RecordService; anamnesis: AnamnesisService; contacts: ContactService; aiConfig: AiConfigService; aiUsage: AiUsageService },
): Module<{ clinicalAssistant: ClinicalAssistant }> {
  const clinicalAssistant = new ClinicalAssistant(infra, deps.records, deps.anamnesis, deps.contacts, deps.aiConfig, deps.aiUsage);
  return { name: 'clinical-assistant', services: { clinicalAssistant }, routes: clinicalAssistantRoutes(clinicalAssistant) };
}
