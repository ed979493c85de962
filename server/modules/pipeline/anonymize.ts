import { eq, isNotNull } from 'drizzle-orm';
import { opportunities, pipelineActivities } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';

export const ANONYMIZED_OPPORTUNITY = 'Oportunidade (anonimizada)';
export const ANONYMIZED_ACTIVITY = 'Atividade (anonimizada)';
export const REMOVED_REASON = 'Removido na anonimização (LGPD)';

/**
 * The pipeline's free text about a patient is marketing data, not clinical: titles, notes and
 * lost reasons are erased (a reason that existed says so). Stages, values, dates, history and
 * who did what stay, so the clinic's funnel figures keep counting the deal.
 */
export async function anonymizePipeline(tx: Tx, ctx: TenantContext, contactId: string) {
  const data = new ClinicData(ctx.clinicId, tx);
  const now = new Date();
  await data.update(opportunities, { title: ANONYMIZED_OPPORTUNITY, updatedAt: now }, eq(opportunities.contactId, contactId));
  await data.update(opportunities, { lostReason: REMOVED_REASON }, eq(opportunities.contactId, contactId), isNotNull(opportunities.lostReason));
  await data.update(pipelineActivities, { title: ANONYMIZED_ACTIVITY, notes: null, updatedAt: now }, eq(pipelineActivities.contactId, contactId));
}
