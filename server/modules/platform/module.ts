import type { Infra } from '../../infra/index.js';
import type { Module } from '../module.js';
import { platformJobs } from './jobs.js';

/**
 * The process's own jobs (mail, pruning). Its routes (health, OpenAPI, failed jobs, test routes)
 * describe the app itself and are mounted by server/app.ts, which owns what they report.
 */
export function platformModule(infra: Infra): Module {
  return { name: 'platform', services: {}, jobs: platformJobs(infra) };
}
