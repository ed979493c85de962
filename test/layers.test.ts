import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** server/lib and server/infra sit below http/ and modules/: nothing in them imports upwards. */
const LOWER = ['server/lib', 'server/infra'];
const UPPER = /from '\.\.\/(http|modules)\//;

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

describe('layers', () => {
  it('lib/ and infra/ import nothing from http/ or modules/', () => {
    const upward = LOWER.flatMap(files).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((line) => UPPER.test(line))
        .map((line) => `${f}: ${line.trim()}`),
    );
    expect(upward).toEqual([]);
  });
});
