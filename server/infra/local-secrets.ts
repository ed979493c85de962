import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';

export interface Keys {
  sessionSecret: string;
  encryptionKey: string;
}

/**
 * SESSION_SECRET and ENCRYPTION_KEY, or (outside production, where they are optional) keys of this
 * installation generated on first boot into DATA_DIR/secrets.json (mode 0600), so no laptop or
 * demo signs cookies and file links with a value published in the source. Losing the file signs
 * everyone out and makes stored integration secrets unreadable, like rotating the variables.
 */
export function resolveKeys(config: Pick<Config, 'sessionSecret' | 'encryptionKey' | 'dataDir'>): Keys {
  if (config.sessionSecret && config.encryptionKey) return { sessionSecret: config.sessionSecret, encryptionKey: config.encryptionKey };
  const file = path.join(config.dataDir, 'secrets.json');
  let stored: Partial<Keys> = {};
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<Keys>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file} is unreadable: fix or delete it (${(err as Error).message})`);
  }
  const keys: Keys = {
    sessionSecret: stored.sessionSecret ?? randomBytes(32).toString('base64url'),
    encryptionKey: stored.encryptionKey ?? randomBytes(32).toString('base64url'),
  };
  if (keys.sessionSecret !== stored.sessionSecret || keys.encryptionKey !== stored.encryptionKey) {
    mkdirSync(config.dataDir, { recursive: true });
    // 'wx' would refuse an existing file; a partial one is completed and rewritten.
    writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  }
  return { sessionSecret: config.sessionSecret ?? keys.sessionSecret, encryptionKey: config.encryptionKey ?? keys.encryptionKey };
}
