import type { Agent, TestClinic } from './clinic.js';
import { createPatient } from './scheduling.js';

export interface Stage {
  id: string;
  name: string;
  color: string;
  order: number;
  defaultKey: string | null;
  openCount: number;
}

/** The clinic's stages in board order (created with the defaults on first use). */
export async function stagesOf(clinic: TestClinic, agent: Agent = clinic.receptionist.agent): Promise<Stage[]> {
  const res = await agent.get('/api/pipeline/stages');
  if (res.status !== 200) throw new Error(`stages: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items as Stage[];
}

/** The stage a clinic started with under this default key. */
export async function stageByKey(clinic: TestClinic, key: string): Promise<Stage> {
  const stage = (await stagesOf(clinic)).find((s) => s.defaultKey === key);
  if (!stage) throw new Error(`no stage ${key}`);
  return stage;
}

/** An opportunity created through the API by the receptionist (for a new patient unless given). */
export async function createOpportunity(clinic: TestClinic, body: Record<string, unknown> = {}): Promise<{ id: string; contactId: string; stageId: string; position: string }> {
  const contactId = (body.contactId as string | undefined) ?? (await createPatient(clinic));
  const res = await clinic.receptionist.agent.post('/api/pipeline/opportunities').send({ title: 'Clareamento dental', valueCents: 150_000, ...body, contactId });
  if (res.status !== 201) throw new Error(`opportunity: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The ids of one column, top to bottom, as the board reads it. */
export async function column(clinic: TestClinic, stageId: string): Promise<{ id: string; position: string }[]> {
  const res = await clinic.receptionist.agent.get('/api/pipeline/opportunities').query({ stageId, limit: 200 });
  if (res.status !== 200) throw new Error(`column: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items;
}
