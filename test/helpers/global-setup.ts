import type { TestProject } from 'vitest/node';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../server/infra/db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string | undefined;
    redisUrl: string | undefined;
    redisPrefix: string;
    /** The run's temp folder (each worker's DATA_DIR is under it); removed at the end. */
    tempRoot: string;
  }
}

/**
 * With TEST_DATABASE_URL, the run gets a fresh database of its own on that server (migrated once,
 * dropped at the end); with TEST_REDIS_URL, a key prefix of its own. Without them, every worker
 * uses an in-memory PGlite and in-memory stores.
 */
export default async function setup(project: TestProject) {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const redisUrl = process.env.TEST_REDIS_URL || undefined;
  const redisPrefix = `opbtest:${run}:`;
  const tempRoot = path.join(tmpdir(), `opb-test-${run}`);
  project.provide('redisUrl', redisUrl);
  project.provide('redisPrefix', redisPrefix);
  project.provide('tempRoot', tempRoot);
  const cleanups: (() => Promise<void>)[] = [async () => rmSync(tempRoot, { recursive: true, force: true })];
  if (redisUrl) cleanups.push(() => deleteKeys(redisUrl, redisPrefix));
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    project.provide('databaseUrl', undefined);
    return teardown;
  }
  const name = `opb_test_${run}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  cleanups.push(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString() });
  await database.migrate();
  await database.close();
  project.provide('databaseUrl', url.toString());
  return teardown;
}

/** Every key the run wrote (sessions, cache, rate limits, queues all live under its prefix). */
async function deleteKeys(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
