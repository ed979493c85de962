import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import type { Module, Providers } from '../module.js';
import { contactRoutes } from './routes.js';
import { ContactService } from './service.js';
import { Timeline } from './timeline.js';

/**
 * Patients, and their timeline. Other features answer its questions through their manifests:
 * `timeline` items, and `dependents` / `clinicalHistory` when a patient is deleted.
 */
export function contactsModule(infra: Infra, deps: { audit: AuditService; providers: Providers }): Module<{ contacts: ContactService; timeline: Timeline }> {
  const contacts = new ContactService(infra, deps.audit, deps.providers);
  const timeline = new Timeline(deps.providers);
  return { name: 'contacts', services: { contacts, timeline }, routes: contactRoutes(contacts, timeline) };
}
