import { AppError, notFound } from '../../lib/errors.js';
import type { TeamService } from '../team/service.js';

/** Owners and assignees: members of the clinic who are still active. */
export class Members {
  constructor(private readonly team: TeamService) {}

  /** 404 for someone who is not a member of this clinic; 422 for a deactivated member. */
  async active(clinicId: string, userId: string) {
    const member = (await this.team.list(clinicId)).find((m) => m.userId === userId);
    if (!member) throw notFound('Membro da equipe');
    if (!member.active) throw new AppError(422, 'member_inactive', 'Este membro da equipe está desativado');
    return member;
  }
}
