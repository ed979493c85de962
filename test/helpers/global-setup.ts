import type { TestProject } from 'vitest/node';
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { openDatabase } from '../../server/infra/db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string | undefined;
    redisUrl: string | undefined;
    redisPrefix: string;
  }
}

/**
 * With TEST_DATABASE_URL, the run gets a fresh database of its own on that server (migrated once,
 * dropped at the end); with TEST_REDIS_URL, a key prefix of its own. Without them, every worker
 * uses an in-memory PGlite and in-memory stores.
 */
export default async function setup(project: TestProject) {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  project.provide('redisUrl', process.env.TEST_REDIS_URL || undefined);
  project.provide('redisPrefix', `opbtest:${run}:`);
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    project.provide('databaseUrl', undefined);
    return;
  }
  const name = `opb_test_${run}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString() });
  await database.migrate();
  await database.close();
  project.provide('databaseUrl', url.toString());
  return async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
}
