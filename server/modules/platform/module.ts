import type { Infra } from '../../infra/index.js';
import type { Module } from '../module.js';
import { platformJobs } from './jobs.js';

/**
 * The process's own jobs (mail, pruning) and its part in an anonymisation: the outbox's kept events
 * lose the patient's identifiers. Its routes (health, OpenAPI, failed jobs, test routes) describe
 * the app itself and are mounted by server/app.ts, which owns what they report.
 */
export function platformModule(infra: Infra): Module {
  return {
    name: 'platform',
    services: {},
    jobs: platformJobs(infra),
    provides: { anonymizers: [(tx, ctx, _contactId, redact) => infra.events.redactPatient(tx, ctx.clinicId, redact)] },
  };
}
