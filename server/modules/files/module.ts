import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { Module, Providers } from '../module.js';
import { fileRoutes } from './routes.js';
import { FileService } from './service.js';

/** Uploaded files and their signed download links; features that link files guard them (`fileAccessGuards`). */
export function filesModule(infra: Infra, deps: { audit: AuditService; providers: Providers }): Module<{ files: FileService }> {
  const files = new FileService(infra, deps.audit, deps.providers);
  return { name: 'files', services: { files }, routes: fileRoutes(files, infra.storage) };
}
