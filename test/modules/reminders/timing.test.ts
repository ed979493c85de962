import { describe, expect, it } from 'vitest';
import type { ReminderOffset } from '../../../shared/schema/index.js';
import { nominalTime, quietEnd, reminderTime } from '../../../server/modules/reminders/timing.js';

const dayBefore: ReminderOffset = { kind: 'day_before', daysBefore: 1, at: '10:00', templateId: null };
const twoHours: ReminderOffset = { kind: 'hours_before', minutesBefore: 120, templateId: null };
const quiet = { start: '21:00', end: '08:00' };
const SP = 'America/Sao_Paulo';
const MANAUS = 'America/Manaus';

describe('when a reminder goes, in the clinic zone', () => {
  it('the day before at 10:00 local, whatever the hour of the appointment', () => {
    // 15:00 in São Paulo (UTC-3) on the 18th: 10:00 local on the 17th is 13:00 UTC.
    expect(nominalTime(new Date('2030-03-18T18:00:00Z'), dayBefore, SP).toISOString()).toBe('2030-03-17T13:00:00.000Z');
    // 00:30 local on the 18th is still the 18th locally (03:30 UTC): the reminder is on the 17th.
    expect(nominalTime(new Date('2030-03-18T03:30:00Z'), dayBefore, SP).toISOString()).toBe('2030-03-17T13:00:00.000Z');
    // 23:30 local on the 17th in Manaus (UTC-4) is already the 18th in UTC: the reminder is on the 16th, 10:00 Manaus = 14:00 UTC.
    expect(nominalTime(new Date('2030-03-18T03:30:00Z'), dayBefore, MANAUS).toISOString()).toBe('2030-03-16T14:00:00.000Z');
    expect(nominalTime(new Date('2030-03-18T18:00:00Z'), { ...dayBefore, daysBefore: 3, at: '09:15' }, SP).toISOString()).toBe('2030-03-15T12:15:00.000Z');
  });

  it('2 hours before is an offset of the instant', () => {
    expect(nominalTime(new Date('2030-03-18T18:00:00Z'), twoHours, SP).toISOString()).toBe('2030-03-18T16:00:00.000Z');
  });

  it('quiet hours wrap midnight: late evening ends the next morning, early morning ends the same day', () => {
    // 22:30 local on the 17th -> 08:00 local on the 18th (11:00 UTC).
    expect(quietEnd(new Date('2030-03-18T01:30:00Z'), quiet, SP)?.toISOString()).toBe('2030-03-18T11:00:00.000Z');
    // 06:00 local on the 18th -> 08:00 local the same day.
    expect(quietEnd(new Date('2030-03-18T09:00:00Z'), quiet, SP)?.toISOString()).toBe('2030-03-18T11:00:00.000Z');
    // The edges: 21:00 is quiet, 08:00 is not, 20:59 is not.
    expect(quietEnd(new Date('2030-03-18T00:00:00Z'), quiet, SP)).toBeDefined();
    expect(quietEnd(new Date('2030-03-18T11:00:00Z'), quiet, SP)).toBeUndefined();
    expect(quietEnd(new Date('2030-03-17T23:59:00Z'), quiet, SP)).toBeUndefined();
    // The same instant is 21:30 in Manaus (UTC-4): quiet until 08:00 Manaus, 12:00 UTC.
    expect(quietEnd(new Date('2030-03-18T01:30:00Z'), quiet, MANAUS)?.toISOString()).toBe('2030-03-18T12:00:00.000Z');
  });

  it('quiet hours inside one day (12:00-14:00) end the same day', () => {
    expect(quietEnd(new Date('2030-03-18T16:00:00Z'), { start: '12:00', end: '14:00' }, SP)?.toISOString()).toBe('2030-03-18T17:00:00.000Z');
    expect(quietEnd(new Date('2030-03-18T18:00:00Z'), { start: '12:00', end: '14:00' }, SP)).toBeUndefined();
  });

  it('a reminder in the quiet hours moves to their end when that is still before the appointment', () => {
    // Appointment 09:00 local; 2 h before is 07:00 (quiet) -> 08:00 local.
    expect(reminderTime(new Date('2030-03-18T12:00:00Z'), twoHours, SP, quiet)).toEqual({ at: new Date('2030-03-18T11:00:00Z'), movedByQuietHours: true });
    // Appointment 15:00 local: 13:00 is outside the quiet hours.
    expect(reminderTime(new Date('2030-03-18T18:00:00Z'), twoHours, SP, quiet)).toEqual({ at: new Date('2030-03-18T16:00:00Z'), movedByQuietHours: false });
    // A day-before time set inside the quiet hours (22:00) moves to 08:00 of the appointment's day.
    expect(reminderTime(new Date('2030-03-18T18:00:00Z'), { ...dayBefore, at: '22:00' }, SP, quiet)).toEqual({ at: new Date('2030-03-18T11:00:00Z'), movedByQuietHours: true });
  });

  it('and is skipped when the end of the quiet hours is not before the appointment', () => {
    // Appointment 07:30 local: 05:30 is quiet, 08:00 is after the start.
    expect(reminderTime(new Date('2030-03-18T10:30:00Z'), twoHours, SP, quiet)).toEqual({ skip: 'quiet_hours' });
    // Exactly at 08:00: the end is not before the start either.
    expect(reminderTime(new Date('2030-03-18T11:00:00Z'), twoHours, SP, quiet)).toEqual({ skip: 'quiet_hours' });
    // Without quiet hours it goes at 05:30 local.
    expect(reminderTime(new Date('2030-03-18T10:30:00Z'), twoHours, SP, null)).toEqual({ at: new Date('2030-03-18T08:30:00Z'), movedByQuietHours: false });
  });

  it('a day-before time late at night, just before an appointment after midnight', () => {
    // Appointment 00:15 local on the 18th: 23:30 on the 17th is 45 minutes before, and quiet when quiet hours apply.
    expect(reminderTime(new Date('2030-03-18T03:15:00Z'), { ...dayBefore, at: '23:30' }, SP, null)).toEqual({ at: new Date('2030-03-18T02:30:00Z'), movedByQuietHours: false });
    expect(reminderTime(new Date('2030-03-18T03:15:00Z'), { ...dayBefore, daysBefore: 1, at: '23:30' }, SP, quiet)).toEqual({ skip: 'quiet_hours' });
  });
});
