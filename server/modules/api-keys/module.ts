import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { Module } from '../module.js';
import { apiKeyRoutes } from './routes.js';
import { ApiKeyService } from './service.js';

/** API keys of a clinic, for scripts and integrations (scoped, never clinical). */
export function apiKeysModule(infra: Infra, deps: { audit: AuditService }): Module<{ apiKeys: ApiKeyService }> {
  const apiKeys = new ApiKeyService(infra, deps.audit);
  return { name: 'api-keys', services: { apiKeys }, routes: apiKeyRoutes(apiKeys) };
}
