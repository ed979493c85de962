import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { resolveKeys } from '../../server/infra/local-secrets.js';

const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'opb-keys-'));
  dirs.push(dir);
  return path.join(dir, 'data');
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('keys of an installation without SESSION_SECRET / ENCRYPTION_KEY', () => {
  it('are generated into DATA_DIR on first boot (owner-only), then reused', () => {
    const dataDir = freshDir();
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config.sessionSecret).toBeUndefined();
    const first = resolveKeys(config);
    expect(first.sessionSecret).toMatch(/^[\w-]{43}$/);
    expect(first.encryptionKey).toMatch(/^[\w-]{43}$/);
    expect(first.encryptionKey).not.toBe(first.sessionSecret);
    const file = path.join(dataDir, 'secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first);
    expect(resolveKeys(loadConfig({ DATA_DIR: dataDir }))).toEqual(first);
  });

  it('differ between installations, so no published default signs cookies or file links', () => {
    const a = resolveKeys(loadConfig({ DATA_DIR: freshDir() }));
    const b = resolveKeys(loadConfig({ DATA_DIR: freshDir() }));
    expect(a.sessionSecret).not.toBe(b.sessionSecret);
    expect(a.encryptionKey).not.toBe(b.encryptionKey);
  });

  it('come from the environment when set, and nothing is written', () => {
    const dataDir = freshDir();
    const keys = resolveKeys(loadConfig({ DATA_DIR: dataDir, SESSION_SECRET: 's'.repeat(40), ENCRYPTION_KEY: 'e'.repeat(40) }));
    expect(keys).toEqual({ sessionSecret: 's'.repeat(40), encryptionKey: 'e'.repeat(40) });
    expect(() => statSync(dataDir)).toThrow();
  });
});
