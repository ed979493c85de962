import type { Infra } from '../../infra/index.js';
import type { ApiKeyService } from '../api-keys/service.js';
import type { AuditService } from '../audit/service.js';
import type { AuthService } from '../auth/service.js';
import type { Module } from '../module.js';
import { teamRoutes } from './routes.js';
import { TeamService } from './service.js';

/** Members, roles, professionals and invitations. */
export function teamModule(infra: Infra, deps: { audit: AuditService; apiKeys: ApiKeyService; auth: AuthService }): Module<{ team: TeamService }> {
  const team = new TeamService(infra, deps.audit, deps.apiKeys);
  return { name: 'team', services: { team }, routes: teamRoutes(team, deps.auth, infra.sessions) };
}
