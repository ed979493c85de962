import { addDays } from '../../lib/zoned-time.js';

export interface Holiday {
  date: string;
  name: string;
  /** `national` by law; `optional` is a ponto facultativo most clinics close (Carnaval, Corpus Christi). */
  kind: 'national' | 'optional' | 'local';
}

/** Easter Sunday (Gregorian), by the anonymous (Meeus/Jones/Butcher) algorithm. */
export function easter(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const FIXED: [string, string][] = [
  ['01-01', 'Confraternização Universal'],
  ['04-21', 'Tiradentes'],
  ['05-01', 'Dia do Trabalho'],
  ['09-07', 'Independência do Brasil'],
  ['10-12', 'Nossa Senhora Aparecida'],
  ['11-02', 'Finados'],
  ['11-15', 'Proclamação da República'],
  ['12-25', 'Natal'],
];

/** Brazil's national holidays of a year, with the Easter-based ones, sorted by date. */
export function nationalHolidays(year: number): Holiday[] {
  const e = easter(year);
  const list: Holiday[] = FIXED.map(([md, name]) => ({ date: `${year}-${md}`, name, kind: 'national' }));
  // Lei 14.759/2023: Consciência Negra is a national holiday from 2024.
  if (year >= 2024) list.push({ date: `${year}-11-20`, name: 'Dia Nacional de Zumbi e da Consciência Negra', kind: 'national' });
  list.push(
    { date: addDays(e, -48), name: 'Carnaval (segunda-feira)', kind: 'optional' },
    { date: addDays(e, -47), name: 'Carnaval (terça-feira)', kind: 'optional' },
    { date: addDays(e, -2), name: 'Sexta-feira Santa', kind: 'national' },
    { date: addDays(e, 60), name: 'Corpus Christi', kind: 'optional' },
  );
  return list.sort((a, b) => a.date.localeCompare(b.date));
}
