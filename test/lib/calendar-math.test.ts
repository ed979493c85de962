import { describe, expect, it } from 'vitest';
import { normalizeCpf, normalizePhone } from '../../shared/api/brazil.js';
import { easter, nationalHolidays } from '../../server/modules/scheduling/holidays.js';
import { formatInZone, offsetMinutes, zonedToUtc } from '../../server/lib/zoned-time.js';

describe('calendar math', () => {
  it('computes Easter and the holidays that hang on it', () => {
    expect([2024, 2025, 2026, 2027].map(easter)).toEqual(['2024-03-31', '2025-04-20', '2026-04-05', '2027-03-28']);
    const h2026 = nationalHolidays(2026);
    expect(h2026.find((h) => h.name === 'Sexta-feira Santa')?.date).toBe('2026-04-03');
    expect(h2026.find((h) => h.name === 'Corpus Christi')?.date).toBe('2026-06-04');
    expect(h2026.filter((h) => h.name.startsWith('Carnaval')).map((h) => h.date)).toEqual(['2026-02-16', '2026-02-17']);
    expect(nationalHolidays(2023).some((h) => h.date === '2023-11-20')).toBe(false);
  });

  it('converts wall-clock times of the four Brazilian zones', () => {
    expect(zonedToUtc('2030-03-11', 8 * 60, 'America/Sao_Paulo').toISOString()).toBe('2030-03-11T11:00:00.000Z');
    expect(zonedToUtc('2030-03-11', 8 * 60, 'America/Manaus').toISOString()).toBe('2030-03-11T12:00:00.000Z');
    expect(zonedToUtc('2030-03-11', 8 * 60, 'America/Rio_Branco').toISOString()).toBe('2030-03-11T13:00:00.000Z');
    expect(zonedToUtc('2030-03-11', 8 * 60, 'America/Noronha').toISOString()).toBe('2030-03-11T10:00:00.000Z');
    expect(formatInZone(new Date('2030-03-11T12:00:00Z'), 'America/Manaus')).toBe('2030-03-11T08:00:00-04:00');
  });

  it("gives each instant its zone's offset, also next to a change and twice over (the kept quarter hours)", () => {
    // Measured at the instant itself with Intl, as offsetMinutes did before it kept quarter hours.
    const reference = (ms: number, timeZone: string) => {
      const f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
      const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
      return Math.round((Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!) - Math.floor(ms / 1000) * 1000) / 60_000);
    };
    // New York's spring change (07:00 UTC), São Paulo's end of local mean time (-3:06:28) in the middle of a quarter hour.
    expect([offsetMinutes(new Date('2030-03-10T06:59:59Z'), 'America/New_York'), offsetMinutes(new Date('2030-03-10T07:00:00Z'), 'America/New_York')]).toEqual([-300, -240]);
    expect([offsetMinutes(new Date('1914-01-01T03:06:27Z'), 'America/Sao_Paulo'), offsetMinutes(new Date('1914-01-01T03:06:29Z'), 'America/Sao_Paulo')]).toEqual([-186, -180]);
    const zones = ['America/Sao_Paulo', 'America/Noronha', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Europe/London'];
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const from = Date.UTC(1900, 0, 1);
    const span = Date.UTC(2040, 0, 1) - from;
    for (let i = 0; i < 3_000; i++) {
      const ms = from + Math.floor(random() * span);
      const zone = zones[i % zones.length]!;
      const want = reference(ms, zone);
      expect(offsetMinutes(new Date(ms), zone)).toBe(want);
      expect(offsetMinutes(new Date(ms), zone)).toBe(want);
    }
  });

  it('validates CPF check digits and Brazilian phone numbers', () => {
    expect(normalizeCpf('529.982.247-25')).toBe('52998224725');
    expect(normalizeCpf('529.982.247-24')).toBeNull();
    expect(normalizeCpf('000.000.000-00')).toBeNull();
    expect(normalizePhone('(11) 8765-4321')).toBe('+5511987654321');
    expect(normalizePhone('+1 415 555 0100')).toBeNull();
    expect(normalizePhone('(11) 1234-5678')).toBeNull();
  });
});
