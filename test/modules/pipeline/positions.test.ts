import { describe, expect, it } from 'vitest';
import { isPositionKey, keyBetween, keysAfter } from '../../../server/modules/pipeline/positions.js';
import { stintsOf } from '../../../server/modules/pipeline/history.js';

describe('position keys', () => {
  it('always finds a key strictly between two neighbours, in byte order, over random inserts', () => {
    const keys: string[] = [];
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let i = 0; i < 5000; i++) {
      const r = random();
      const at = r < 0.3 ? 0 : r < 0.6 ? keys.length : Math.floor(random() * (keys.length + 1));
      const key = keyBetween(keys[at - 1] ?? null, keys[at] ?? null);
      expect(isPositionKey(key)).toBe(true);
      keys.splice(at, 0, key);
    }
    for (let i = 1; i < keys.length; i++) expect(keys[i - 1]! < keys[i]!).toBe(true);
    expect(Buffer.compare(Buffer.from(keys[0]!), Buffer.from(keys[1]!))).toBe(-1);
  });

  it('stays short when a column only grows at its ends', () => {
    const appended = keysAfter(null, 10_000);
    expect(Math.max(...appended.map((k) => k.length))).toBeLessThanOrEqual(4);
    let top = 'a0';
    for (let i = 0; i < 10_000; i++) top = keyBetween(null, top);
    expect(top.length).toBeLessThanOrEqual(4);
  });

  it('refuses keys out of order and forged ones', () => {
    expect(() => keyBetween('a5', 'a1')).toThrow();
    for (const bad of ['', 'a', 'a00', '!!', 'a0\u0000', 'zzz']) expect(isPositionKey(bad), bad).toBe(false);
  });
});

describe('time in stage', () => {
  const at = (hhmm: string) => new Date(`2031-01-06T${hhmm}:00Z`);
  it('counts only while open: a move while lost starts nothing, reopening starts the clock again', () => {
    const stints = stintsOf([
      { kind: 'created', toStageId: 's1', at: at('09:00') },
      { kind: 'lost', toStageId: 's1', at: at('10:00') },
      { kind: 'moved', toStageId: 's2', at: at('11:00') },
      { kind: 'reopened', toStageId: 's2', at: at('12:00') },
    ]);
    expect(stints).toEqual([
      { stageId: 's1', enteredAt: at('09:00'), leftAt: at('10:00') },
      { stageId: 's2', enteredAt: at('12:00'), leftAt: null },
    ]);
  });
});
