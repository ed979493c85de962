import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';

const file = readFileSync('.env.example', 'utf8');
const parsed = parseEnv(file) as Record<string, string>;

describe('.env.example', () => {
  it('is read by Node (process.loadEnvFile) as a configuration the server accepts', () => {
    expect(Object.keys(parsed).length).toBeGreaterThan(40);
    expect(parsed.MAIL_FROM).toBe('Operabase <nao-responda@operabase.com.br>');
    expect(() => loadConfig(parsed)).not.toThrow();
  });

  it('can be sourced by a shell (`set -a; source .env.example`), giving the same values as Node reads', () => {
    const names = Object.keys(parsed);
    const out = execFileSync('bash', ['-c', `set -a; source .env.example; for n in ${names.join(' ')}; do printf '%s=%s\\0' "$n" "\${!n}"; done`], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    const sourced = Object.fromEntries(out.split('\0').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
    expect(sourced).toEqual(parsed);
  });

  it('shows exact CORS origins, never a wildcard over a shared hosting suffix', () => {
    expect(file).not.toMatch(/CORS_ORIGINS=.*vercel\.app/);
    expect(file).toContain('https://*.preview.operabase.com.br');
  });
});
