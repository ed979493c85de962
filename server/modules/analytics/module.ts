import type { Infra } from '../../infra/index.js';
import type { ClinicService } from '../clinic/service.js';
import { defineSubscriber, type Module } from '../module.js';
import type { Scheduling } from '../scheduling/module.js';
import type { TeamService } from '../team/service.js';
import { AnalyticsCache } from './cache.js';
import { AnalyticsService } from './reports.js';
import { analyticsRoutes } from './routes.js';

/** Reports on the clinic's agenda, patients, revenue, pipeline and WhatsApp (docs/analytics.md). */
export function analyticsModule(infra: Infra, deps: { team: TeamService; clinic: ClinicService; scheduling: Scheduling }): Module<{ analytics: AnalyticsService }> {
  const cache = new AnalyticsCache(infra.cache);
  const analytics = new AnalyticsService(infra, deps.team, deps.clinic, deps.scheduling, cache);
  return {
    name: 'analytics',
    services: { analytics },
    routes: analyticsRoutes(analytics),
    subscribers: [
      // Any change to what a report counts drops the clinic's cached reports (one version key per clinic).
      defineSubscriber({
        name: 'analytics-cache',
        events: [
          'appointment.created',
          'appointment.updated',
          'appointment.cancelled',
          'appointment.deleted',
          'message.received',
          'message.sent',
          'opportunity.created',
          'opportunity.updated',
          'opportunity.moved',
          'opportunity.won',
          'opportunity.lost',
          'opportunity.deleted',
          'pipeline.stages_updated',
          'member.changed',
          'clinic.updated',
        ],
        handle: (event) => cache.invalidate(event.clinicId),
      }),
    ],
  };
}
