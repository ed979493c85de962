import { defineJob, type AnyJobDef } from '../../infra/queue.js';
import type { Infra } from '../../infra/index.js';
import type { NumberProbe } from './probe.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    /** Every number of this gateway; `clinicId`: that clinic's only (on demand). */
    'whatsapp.numbers.probe': { clinicId?: string };
  }
}

export const whatsappJobs = (infra: Infra, probe: NumberProbe): AnyJobDef[] => [
  defineJob({
    // Repeatable: once per cluster every WHATSAPP_PROBE_EVERY_MS.
    name: 'whatsapp.numbers.probe',
    queue: 'whatsapp',
    everyMs: infra.config.evolution.probeEveryMs,
    handler: async (data, job) => {
      const totals = await probe.probeAll(data.clinicId);
      job.log.info(totals, 'whatsapp numbers probed');
    },
  }),
];
