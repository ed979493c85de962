import type { ClinicService } from '../../clinic/service.js';
import type { Scheduling } from '../../scheduling/module.js';
import type { TeamService } from '../../team/service.js';
import type { AssistantTool } from '../tool.js';
import { appointmentTools } from './appointments.js';
import { clinicInfo, handoff } from './clinic.js';
import { findFreeSlots } from './slots.js';

export interface ToolDeps {
  scheduling: Scheduling;
  clinic: ClinicService;
  team: TeamService;
}

/**
 * The assistant's tools over the scheduling services (docs/ai.md, "Tools"). None takes a patient or
 * a clinic as an argument: both come from the ToolScope the auto-reply fixes, so a patient's
 * message cannot point a tool at anyone else. Writes run as `system:assistant` through the
 * services, with their overlap rule, status rules, audit and events.
 */
export function assistantTools(deps: ToolDeps): AssistantTool[] {
  return [findFreeSlots(deps), ...appointmentTools(deps), clinicInfo(deps), handoff];
}
