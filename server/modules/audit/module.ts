import type { Infra } from '../../infra/index.js';
import type { Module } from '../module.js';
import { auditRoutes } from './routes.js';
import { AuditService } from './service.js';

/** The clinic's audit log: every feature records into it, admins read it. */
export function auditModule(infra: Infra): Module<{ audit: AuditService }> {
  const audit = new AuditService(infra.db);
  return { name: 'audit', services: { audit }, routes: auditRoutes(audit) };
}
