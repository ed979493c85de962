// The machine's Postgres and Redis, shared with other runs: the rehearsal works in a database
// and a key prefix of its own and removes both at the end.
import { Redis } from 'ioredis';
import postgres from 'postgres';

export class Services {
  private readonly databases: string[] = [];
  private readonly prefixes: string[] = [];

  constructor(
    readonly adminUrl: string,
    readonly redisUrl: string,
  ) {}

  async createDatabase(name: string): Promise<string> {
    const admin = postgres(this.adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create database ${name}`);
    } finally {
      await admin.end();
    }
    this.databases.push(name);
    const url = new URL(this.adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
    const db = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return (await db.unsafe(sql)) as unknown as T[];
    } finally {
      await db.end();
    }
  }

  redisPrefix(prefix: string): string {
    this.prefixes.push(prefix);
    return prefix;
  }

  async dropAll() {
    const admin = postgres(this.adminUrl, { max: 1, onnotice: () => {} });
    try {
      for (const name of this.databases) await admin.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.end();
    }
    const redis = new Redis(this.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      for (const prefix of this.prefixes) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
    } finally {
      redis.disconnect();
    }
  }
}
