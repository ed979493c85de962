import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { Module } from '../module.js';
import { clinicRoutes } from './routes.js';
import { ClinicService } from './service.js';

/** The clinic's own settings: name, zone, working hours. */
export function clinicModule(infra: Infra, deps: { audit: AuditService }): Module<{ clinic: ClinicService }> {
  const clinic = new ClinicService(infra, deps.audit);
  return { name: 'clinic', services: { clinic }, routes: clinicRoutes(clinic) };
}
