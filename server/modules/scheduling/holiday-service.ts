import { asc, between, eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { holidayBody } from '../../../shared/api/scheduling.js';
import { clinicHolidays } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { TenantContext } from '../../http/context.js';
import { conflict, notFound } from '../../lib/errors.js';
import { UNIQUE_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import type { AuditService } from '../audit/service.js';
import type { CalendarCache } from './calendar-cache.js';
import { nationalHolidays, type Holiday } from './holidays.js';

/** The national calendar (computed) merged with each clinic's local holidays and reopened dates. */
export class HolidayService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly calendars: CalendarCache,
  ) {}

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  private overrides(clinicId: string, from: string, to: string) {
    return this.data(clinicId)
      .select(clinicHolidays, between(clinicHolidays.date, from, to))
      .orderBy(asc(clinicHolidays.date));
  }

  async list(clinicId: string, year: number) {
    const overrides = await this.overrides(clinicId, `${year}-01-01`, `${year}-12-31`);
    const byDate = new Map(overrides.map((o) => [o.date, o]));
    const national = nationalHolidays(year).map((h) => {
      const o = byDate.get(h.date);
      byDate.delete(h.date);
      return { ...h, closed: o ? !o.open : true, overrideId: o?.id ?? null };
    });
    const local = [...byDate.values()].map((o) => ({ date: o.date, name: o.name, kind: 'local' as Holiday['kind'], closed: !o.open, overrideId: o.id }));
    return [...national, ...local].sort((a, b) => a.date.localeCompare(b.date));
  }

  /** Dates (YYYY-MM-DD) between from and to, inclusive, when the clinic is closed. */
  async closedDates(clinicId: string, from: string, to: string): Promise<Set<string>> {
    const closed = new Set<string>();
    for (let year = Number(from.slice(0, 4)); year <= Number(to.slice(0, 4)); year++) {
      for (const h of nationalHolidays(year)) if (h.date >= from && h.date <= to) closed.add(h.date);
    }
    for (const o of await this.overrides(clinicId, from, to)) {
      if (o.open) closed.delete(o.date);
      else closed.add(o.date);
    }
    return closed;
  }

  async create(ctx: TenantContext, input: z.infer<typeof holidayBody>) {
    const row = await this.data(ctx.clinicId)
      .transaction(async (data, tx) => {
        const [created] = await data.insert(clinicHolidays, input).returning();
        if (!created) throw new Error('insert returned nothing');
        await this.audit.record(ctx, { action: 'holiday.created', entityType: 'holiday', entityId: created.id, details: { date: input.date, open: input.open } }, tx);
        return created;
      })
      .catch((err: unknown) => {
        throw pgErrorCode(err) === UNIQUE_VIOLATION ? conflict('holiday_exists', 'This date already has an entry; delete it first') : err;
      });
    await this.calendars.invalidateClinic(ctx.clinicId);
    const national = nationalHolidays(Number(row.date.slice(0, 4))).find((h) => h.date === row.date);
    return { date: row.date, name: national?.name ?? row.name, kind: national?.kind ?? 'local', closed: !row.open, overrideId: row.id };
  }

  async remove(ctx: TenantContext, id: string) {
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.delete(clinicHolidays, eq(clinicHolidays.id, id)).returning({ id: clinicHolidays.id });
      if (!row) throw notFound('Holiday');
      await this.audit.record(ctx, { action: 'holiday.deleted', entityType: 'holiday', entityId: id }, tx);
    });
    await this.calendars.invalidateClinic(ctx.clinicId);
  }
}
