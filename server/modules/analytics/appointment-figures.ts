import { sql } from 'drizzle-orm';
import type { AppointmentFigures, ContactFigures, RevenueFigures } from '../../../shared/api/analytics.js';
import { APPOINTMENT_STATUSES, appointments, type PAYMENT_STATUSES } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { rowsOf, type Db } from '../../infra/db.js';
import { ratio, type Periods } from './periods.js';
import { pairOf, type Pair } from './sides.js';

type Status = (typeof APPOINTMENT_STATUSES)[number];
type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Counts per period, professional, status and payment status: the one scan behind the appointments and revenue reports. */
export interface Fact {
  current: boolean;
  professional_id: string;
  status: Status;
  payment_status: PaymentStatus;
  n: number;
  minutes: number;
  cents: number;
  priced: number;
}

/** Statuses that hold the slot (scheduling's ACTIVE_APPOINTMENT_STATUSES): booked time, and the patients who were seen or will be. */
const ACTIVE = sql.raw(`('scheduled', 'confirmed', 'arrived', 'in_progress', 'completed')`);
const CONFIRMED: readonly Status[] = ['confirmed', 'arrived', 'in_progress', 'completed'];
const HOLDS_SLOT: readonly Status[] = ['scheduled', ...CONFIRMED];

export async function appointmentFacts(db: Db, data: ClinicData, p: Periods): Promise<Fact[]> {
  const { previousStart, currentStart, end } = p.sql;
  return rowsOf<Fact>(
    await db.execute(sql`
      select starts_at >= ${currentStart} as current, professional_id, status, payment_status, count(*)::int as n,
        coalesce(sum(extract(epoch from ends_at - starts_at)) / 60, 0)::float8 as minutes,
        coalesce(sum(price_cents), 0)::float8 as cents, count(price_cents)::int as priced
      from ${appointments}
      where ${data.owns(appointments, sql`starts_at >= ${previousStart} and starts_at < ${end}`)}
      group by 1, 2, 3, 4`),
  );
}

const emptyAppointments = (): AppointmentFigures => ({
  total: 0,
  byStatus: Object.fromEntries(APPOINTMENT_STATUSES.map((s) => [s, 0])) as AppointmentFigures['byStatus'],
  noShowRate: null,
  confirmationRate: null,
  bookedMinutes: 0,
  workingMinutes: 0,
  occupancy: null,
});

/** Statuses, rates and occupancy; `working` gives each professional's working minutes per period. */
export function appointmentFigures(facts: Fact[], working: { current: Map<string, number>; previous: Map<string, number> }): Pair<AppointmentFigures> {
  const { pair, at, each } = pairOf(emptyAppointments);
  for (const [current, map] of [[true, working.current], [false, working.previous]] as const) {
    for (const [id, minutes] of map) {
      at(current, id).workingMinutes += minutes;
      at(current, null).workingMinutes += minutes;
    }
  }
  for (const f of facts) {
    for (const target of [at(f.current, null), at(f.current, f.professional_id)]) {
      target.total += f.n;
      target.byStatus[f.status] += f.n;
      if (HOLDS_SLOT.includes(f.status)) target.bookedMinutes += f.minutes;
    }
  }
  each((f) => {
    const due = f.total - f.byStatus.cancelled;
    f.noShowRate = ratio(f.byStatus.no_show, due);
    f.confirmationRate = ratio(CONFIRMED.reduce((n, s) => n + f.byStatus[s], 0), due);
    f.bookedMinutes = Math.round(f.bookedMinutes);
    f.workingMinutes = Math.round(f.workingMinutes);
    f.occupancy = ratio(f.bookedMinutes, f.workingMinutes);
  });
  return pair;
}

const emptyRevenue = (): RevenueFigures => ({ completed: 0, unpriced: 0, revenueCents: 0, paidCents: 0, pendingCents: 0, waivedCents: 0, refundedCents: 0 });

/** Completed appointments x their price, by payment status. */
export function revenueFigures(facts: Fact[]): Pair<RevenueFigures> {
  const { pair, at } = pairOf(emptyRevenue);
  for (const f of facts) {
    if (f.status !== 'completed') continue;
    for (const target of [at(f.current, null), at(f.current, f.professional_id)]) {
      target.completed += f.n;
      target.unpriced += f.n - f.priced;
      const key = `${f.payment_status}Cents` as const;
      target[key] += f.cents;
      if (f.payment_status === 'paid' || f.payment_status === 'pending') target.revenueCents += f.cents;
    }
  }
  return pair;
}

interface SeenRow {
  /** Null on the rows of the clinic's total. */
  professional_id: string | null;
  current: boolean;
  patients: number;
  fresh: number;
}

/**
 * Patients with an active appointment in each period, new when their first active appointment at
 * the clinic (any professional) lies in that period. Totals count each patient once. One pass over
 * the clinic's active appointments up to the end, grouped by patient: their first visit and the
 * professionals who saw them in each period (a few per patient), unnested to count per professional.
 */
export async function contactFigures(db: Db, data: ClinicData, p: Periods): Promise<Pair<ContactFigures>> {
  const { previousStart, currentStart, end } = p.sql;
  const rows = rowsOf<SeenRow>(
    await db.execute(sql`
      with patients as (
        select min(starts_at) as first_at,
          array_agg(distinct professional_id) filter (where starts_at >= ${currentStart}) as cur,
          array_agg(distinct professional_id) filter (where starts_at >= ${previousStart} and starts_at < ${currentStart}) as prev
        from ${appointments}
        where ${data.owns(appointments, sql`status in ${ACTIVE} and starts_at < ${end}`)}
        group by contact_id
      ), seen as (
        select seen_by.id as professional_id, true as current, first_at >= ${currentStart} as fresh from patients, unnest(cur) as seen_by(id)
        union all
        select seen_by.id, false, first_at >= ${previousStart} from patients, unnest(prev) as seen_by(id)
        union all
        select null, true, first_at >= ${currentStart} from patients where cur is not null
        union all
        select null, false, first_at >= ${previousStart} from patients where prev is not null
      )
      select professional_id, current, count(*)::int as patients, count(*) filter (where fresh)::int as fresh from seen group by 1, 2`),
  );
  const { pair, at } = pairOf((): ContactFigures => ({ patients: 0, newPatients: 0, returningPatients: 0 }));
  for (const r of rows) Object.assign(at(r.current, r.professional_id), { patients: r.patients, newPatients: r.fresh, returningPatients: r.patients - r.fresh });
  return pair;
}
