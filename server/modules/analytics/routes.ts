import type { Request, Response } from 'express';
import type { z } from 'zod';
import { analyticsQuery, appointmentsReport, contactsReport, dashboardResponse, messagingReport, pipelineReport, revenueReport, type AnalyticsReport } from '../../../shared/api/analytics.js';
import { route } from '../../http/route.js';
import type { Permission } from '../../lib/permissions.js';
import { dashboardCsv, reportCsv } from './csv.js';
import type { AnalyticsService } from './reports.js';

const tag = 'Analytics';
type Query = z.infer<typeof analyticsQuery>;

/** CSV when asked by `?format=csv`, or by an Accept header that prefers it to JSON. */
const wantsCsv = (req: Request, q: Query) => q.format === 'csv' || (q.format !== 'json' && req.accepts(['application/json', 'text/csv']) === 'text/csv');

function sendCsv(res: Response, file: string, q: Query, body: string) {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="operabase-${file}-${q.from}_${q.to}.csv"`);
  res.end(body);
}

const REPORTS: [AnalyticsReport, Permission, string, z.ZodType][] = [
  ['appointments', 'analytics:read', 'Appointments by status, no-show and confirmation rates, occupancy', appointmentsReport],
  ['contacts', 'analytics:read', 'New and returning patients', contactsReport],
  ['pipeline', 'analytics:read', 'Pipeline conversion per stage and median time in stage', pipelineReport],
  ['messaging', 'analytics:read', 'WhatsApp volume, median first response (people and assistant apart), AI handoff rate', messagingReport],
  ['revenue', 'analytics:financial', 'Revenue of completed appointments, paid and pending (admins)', revenueReport],
];

export const analyticsRoutes = (analytics: AnalyticsService) => [
  route({
    method: 'get',
    path: '/analytics/dashboard',
    summary: 'Every report for a range of local days, with the previous period and per professional; revenue for admins only. `?format=csv` or `Accept: text/csv` for CSV',
    tag,
    access: 'analytics:read',
    schemas: { query: analyticsQuery },
    response: dashboardResponse,
    handler: async ({ ctx, query, req, res }) => {
      const dashboard = await analytics.dashboard(ctx, query);
      if (!wantsCsv(req, query)) return dashboard;
      sendCsv(res, 'painel', query, dashboardCsv(dashboard));
    },
  }),
  ...REPORTS.map(([name, access, summary, response]) =>
    route({
      method: 'get',
      path: `/analytics/${name}`,
      summary: `${summary}, for a range of local days, with the previous period and per professional. \`?format=csv\` or \`Accept: text/csv\` for CSV`,
      tag,
      access,
      schemas: { query: analyticsQuery },
      response,
      handler: async ({ ctx, query, req, res }) => {
        const report = await analytics.report(ctx, name, query);
        if (!wantsCsv(req, query)) return report;
        sendCsv(res, name, query, reportCsv(name, report));
      },
    }),
  ),
];
