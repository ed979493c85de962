import { eq, gte, inArray } from 'drizzle-orm';
import type { z } from 'zod';
import type { appointmentBody, appointmentListQuery, appointmentPatch, statusChange } from '../../../shared/api/scheduling.js';
import { appointments } from '../../../shared/schema/index.js';
import { ClinicData, ClinicQueries } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import { actorUserId, type TenantContext } from '../../http/context.js';
import { AppError, conflict, forbidden, notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { EXCLUSION_VIOLATION, pgErrorCode, retryOnDeadlock } from '../../lib/pg-errors.js';
import type { AuditService } from '../audit/service.js';
import type { ContactService } from '../contacts/service.js';
import type { TeamService } from '../team/service.js';
import type { CalendarCache } from './calendar-cache.js';
import { slotTaken, timeRange } from './booking-rules.js';
import { canMove, isMovable } from './status.js';
import type { TagService } from './tags.js';
import { listQuery, overlapping, selectViews, startsAfterFor, toEvent, viewsByIds, withDuration, type AppointmentRow, type AppointmentView, type ListShape, type ViewRow } from './views.js';

type Body = z.infer<typeof appointmentBody>;
type Patch = z.infer<typeof appointmentPatch>;
type StatusChange = z.infer<typeof statusChange>;
type ListQuery = z.infer<typeof appointmentListQuery>;

export class AppointmentService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly team: TeamService,
    private readonly tags: TagService,
    private readonly calendars: CalendarCache,
  ) {
    this.lists = new ClinicQueries(infra.db, 'appointments.list', listQuery);
  }

  /** The list queries, built once per shape (`GET /api/appointments`, the week view's cache miss). */
  private readonly lists: ClinicQueries<ListShape, ViewRow[]>;

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  async get(clinicId: string, id: string): Promise<AppointmentView> {
    const [view] = await viewsByIds(this.data(clinicId), [id]);
    if (!view) throw notFound('Appointment');
    return view;
  }

  private async row(clinicId: string, id: string): Promise<AppointmentRow> {
    const [row] = await this.data(clinicId).select(appointments, eq(appointments.id, id));
    if (!row) throw notFound('Appointment');
    return row;
  }

  async list(clinicId: string, q: ListQuery) {
    // A professional's week (the calendar view) is cached; everything else reads through.
    if (q.professionalId && q.from && q.to && !q.cursor) {
      const key = `week:${JSON.stringify(q)}`;
      return this.calendars.wrap(clinicId, q.professionalId, key, () => this.query(clinicId, q));
    }
    return this.query(clinicId, q);
  }

  private async query(clinicId: string, q: ListQuery) {
    const cursor = decodeCursor(q.cursor);
    const shape = { from: !!q.from, to: !!q.to, professionalId: !!q.professionalId, contactId: !!q.contactId, status: !!q.status, tagId: !!q.tagId, cursor: !!cursor };
    const values = { ...q, startsAfter: q.from && startsAfterFor(q.from), cursorAt: cursor?.at, cursorId: cursor?.id, limit: q.limit + 1 };
    const rows = (await this.lists.run(shape, clinicId, values)).map(withDuration);
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > q.limit && last ? encodeCursor({ createdAt: last.startsAt, id: last.id }) : null };
  }

  /** 404 for a patient, professional or tag that is not this clinic's; 403 for an encaixe by a non-admin. */
  async checkReferences(ctx: TenantContext, refs: { contactId?: string; professionalId?: string; tagId?: string | null; overbook?: boolean }) {
    if (refs.overbook && !can(ctx.actor, 'appointments:overbook')) throw forbidden('Only admins may book over another appointment (encaixe)');
    await Promise.all([
      refs.contactId ? this.contacts.get(ctx.clinicId, refs.contactId) : undefined,
      refs.professionalId ? this.team.professional(ctx.clinicId, refs.professionalId) : undefined,
      refs.tagId ? this.tags.get(ctx.clinicId, refs.tagId) : undefined,
    ]);
  }

  async create(ctx: TenantContext, body: Omit<Body, 'recurrence'>) {
    await this.checkReferences(ctx, body);
    const { startsAt, endsAt } = timeRange(body.startsAt, body.durationMinutes, body.endsAt);
    const { overbook, durationMinutes: _d, endsAt: _e, ...fields } = body;
    // The views published in the transaction are the answer: no second read after the commit.
    let views: AppointmentView[] = [];
    await this.write(ctx, body.professionalId, startsAt, endsAt, [], overbook ?? false, async (data, tx, overbooked) => {
      const [row] = await data.insert(appointments, { ...fields, startsAt, endsAt, overbooked, createdBy: actorUserId(ctx) }).returning({ id: appointments.id });
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(
        ctx,
        { action: 'appointment.created', entityType: 'appointment', entityId: row.id, contactId: body.contactId, details: { professionalId: body.professionalId, startsAt, endsAt, overbooked } },
        tx,
      );
      views = await this.publishViews(tx, ctx, 'appointment.created', [row.id]);
      return row.id;
    });
    const [view] = views;
    if (!view) throw new Error('the created appointment has no view');
    await this.invalidateCalendars(ctx.clinicId, [view]);
    return view;
  }

  /**
   * Runs a write that puts an appointment at [start, end). Without an encaixe, any active overlap
   * (encaixes included) is a 409; the exclusion constraint settles races between writers. With an
   * encaixe the row is flagged only when it really overlaps, and the override is audited.
   */
  async write<T>(
    ctx: TenantContext,
    professionalId: string,
    start: Date,
    end: Date,
    exceptIds: string[],
    overbook: boolean,
    run: (data: ClinicData, tx: Tx, overbooked: boolean) => Promise<T>,
  ): Promise<T> {
    try {
      return await retryOnDeadlock(() =>
        this.data(ctx.clinicId).transaction(async (data, tx) => {
          const clashes = await overlapping(data, professionalId, start, end, exceptIds);
          if (clashes.length > 0 && !overbook) throw slotTaken(clashes.map((c) => c.id));
          const result = await run(data, tx, clashes.length > 0);
          if (clashes.length > 0) {
            await this.audit.record(
              ctx,
              { action: 'appointment.overbooked', entityType: 'appointment', entityId: typeof result === 'string' ? result : (exceptIds[0] ?? null), details: { professionalId, conflictingIds: clashes.map((c) => c.id) } },
              tx,
            );
          }
          return result;
        }),
      );
    } catch (err) {
      if (pgErrorCode(err) !== EXCLUSION_VIOLATION) throw err;
      const clashes = await overlapping(this.data(ctx.clinicId), professionalId, start, end, exceptIds);
      throw slotTaken(clashes.map((c) => c.id));
    }
  }

  /** The appointment, or with scope `following` it and the later movable occurrences of its series. */
  private async targets(clinicId: string, current: AppointmentRow, scope: 'this' | 'following' | undefined, filter?: (r: AppointmentRow) => boolean) {
    if (scope !== 'following' || !current.seriesId) return [current];
    const rows = await this.data(clinicId).select(appointments, eq(appointments.seriesId, current.seriesId), gte(appointments.startsAt, current.startsAt));
    return rows.filter((r) => r.id === current.id || !filter || filter(r)).sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
  }

  async update(ctx: TenantContext, id: string, patch: Patch) {
    const current = await this.row(ctx.clinicId, id);
    const { scope, overbook, durationMinutes, endsAt: newEnd, startsAt: newStart, ...fields } = patch;
    const moves = newStart !== undefined || durationMinutes !== undefined || newEnd !== undefined || (fields.professionalId !== undefined && fields.professionalId !== current.professionalId);
    if ((moves || fields.contactId !== undefined) && !isMovable(current.status)) {
      throw conflict('appointment_locked', `An appointment that is ${current.status} cannot be moved`);
    }
    await this.checkReferences(ctx, { ...fields, overbook });
    const targets = await this.targets(ctx.clinicId, current, scope, (r) => isMovable(r.status));
    const delta = newStart ? newStart.getTime() - current.startsAt.getTime() : 0;
    const start0 = new Date(current.startsAt.getTime() + delta);
    const length = newEnd
      ? timeRange(start0, undefined, newEnd).endsAt.getTime() - start0.getTime()
      : durationMinutes !== undefined
        ? durationMinutes * 60_000
        : undefined;
    const professionalId = fields.professionalId ?? current.professionalId;
    const changes = targets.map((t) => {
      const startsAt = new Date(t.startsAt.getTime() + delta);
      return { row: t, ...timeRange(startsAt, undefined, new Date(startsAt.getTime() + (length ?? t.endsAt.getTime() - t.startsAt.getTime()))) };
    });
    const ids = changes.map((c) => c.row.id);
    const writeOne = async (data: ClinicData, tx: Tx, c: (typeof changes)[number], overbooked: boolean | undefined) => {
      await data.update(
        appointments,
        { ...fields, startsAt: c.startsAt, endsAt: c.endsAt, ...(overbooked === undefined ? {} : { overbooked }), updatedAt: new Date() },
        eq(appointments.id, c.row.id),
      );
      await this.audit.record(
        ctx,
        {
          action: moves ? 'appointment.rescheduled' : 'appointment.updated',
          entityType: 'appointment',
          entityId: c.row.id,
          contactId: fields.contactId ?? c.row.contactId,
          details: { fields: Object.keys(patch), ...(moves ? { from: c.row.startsAt, to: c.startsAt, professionalId } : {}) },
        },
        tx,
      );
    };
    let views: AppointmentView[] = [];
    if (!moves) {
      await this.data(ctx.clinicId).transaction(async (data, tx) => {
        for (const c of changes) await writeOne(data, tx, c, undefined);
        views = await this.publishViews(tx, ctx, 'appointment.updated', ids, current.professionalId);
      });
    } else {
      // One transaction for the whole series: a conflict on any occurrence changes none.
      await retryOnDeadlock(() =>
        this.data(ctx.clinicId).transaction(async (data, tx) => {
          for (const c of changes) {
            await this.writeNested(ctx, data, tx, professionalId, c.startsAt, c.endsAt, ids, overbook ?? false, (overbooked) => writeOne(data, tx, c, overbooked));
          }
          views = await this.publishViews(tx, ctx, 'appointment.updated', ids, current.professionalId);
        }),
      ).catch(async (err: unknown) => {
        if (pgErrorCode(err) !== EXCLUSION_VIOLATION) throw err;
        throw slotTaken([]);
      });
    }
    await this.invalidateCalendars(ctx.clinicId, views, current.professionalId);
    return views.find((v) => v.id === id) as AppointmentView;
  }

  /** `write` inside an outer transaction (series edits). */
  private async writeNested(
    ctx: TenantContext,
    data: ClinicData,
    tx: Tx,
    professionalId: string,
    start: Date,
    end: Date,
    exceptIds: string[],
    overbook: boolean,
    run: (overbooked: boolean) => Promise<void>,
  ) {
    const clashes = await overlapping(data, professionalId, start, end, exceptIds);
    if (clashes.length > 0 && !overbook) throw slotTaken(clashes.map((c) => c.id), { startsAt: start });
    await run(clashes.length > 0);
    if (clashes.length > 0) {
      await this.audit.record(ctx, { action: 'appointment.overbooked', entityType: 'appointment', details: { professionalId, conflictingIds: clashes.map((c) => c.id) } }, tx);
    }
  }

  async changeStatus(ctx: TenantContext, id: string, change: StatusChange) {
    const current = await this.row(ctx.clinicId, id);
    if (!canMove(current.status, change.status)) {
      throw new AppError(409, 'invalid_status_transition', `An appointment cannot go from ${current.status} to ${change.status}`, { from: current.status, to: change.status });
    }
    const targets = await this.targets(ctx.clinicId, current, change.scope, (r) => canMove(r.status, change.status));
    const ids = targets.map((t) => t.id);
    let views: AppointmentView[] = [];
    try {
      // Back into the calendar, an appointment races new bookings like one.
      await retryOnDeadlock(() => this.data(ctx.clinicId).transaction(async (data, tx) => {
        for (const t of targets) {
          await data.update(
            appointments,
            {
              status: change.status,
              cancellationReason: change.status === 'cancelled' ? (change.reason ?? null) : t.cancellationReason,
              // Back into the calendar: it must fit like a new booking.
              ...(change.status === 'scheduled' && t.status === 'no_show' ? { overbooked: false } : {}),
              updatedAt: new Date(),
            },
            eq(appointments.id, t.id),
          );
          await this.audit.record(
            ctx,
            { action: 'appointment.status_changed', entityType: 'appointment', entityId: t.id, contactId: t.contactId, details: { from: t.status, to: change.status, withReason: Boolean(change.reason) } },
            tx,
          );
        }
        const previousStatuses = new Map(targets.map((t) => [t.id, t.status]));
        views = await this.publishViews(tx, ctx, change.status === 'cancelled' ? 'appointment.cancelled' : 'appointment.updated', ids, undefined, previousStatuses);
      }));
    } catch (err) {
      if (pgErrorCode(err) !== EXCLUSION_VIOLATION) throw err;
      const clashes = await overlapping(this.data(ctx.clinicId), current.professionalId, current.startsAt, current.endsAt, ids);
      throw slotTaken(clashes.map((c) => c.id));
    }
    await this.invalidateCalendars(ctx.clinicId, views);
    return views.find((v) => v.id === id) as AppointmentView;
  }

  async remove(ctx: TenantContext, id: string, scope?: 'this' | 'following') {
    const current = await this.row(ctx.clinicId, id);
    const targets = await this.targets(ctx.clinicId, current, scope);
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      await data.delete(appointments, inArray(appointments.id, targets.map((t) => t.id)));
      for (const t of targets) {
        await this.audit.record(ctx, { action: 'appointment.deleted', entityType: 'appointment', entityId: t.id, contactId: t.contactId, details: { professionalId: t.professionalId, startsAt: t.startsAt } }, tx);
        const deleted = { id: t.id, contactId: t.contactId, professionalId: t.professionalId, startsAt: t.startsAt.toISOString(), endsAt: t.endsAt.toISOString() };
        await this.infra.events.publish(tx, 'appointment.deleted', deleted, ctx);
      }
    });
    await this.calendars.invalidate(ctx.clinicId, [current.professionalId]);
  }

  /**
   * In the write's transaction: one event per appointment, with what a calendar redraws from (no
   * notes). Returns the views, as committed with it: the write's answer.
   */
  async publishViews(
    tx: Tx,
    ctx: TenantContext,
    name: 'appointment.created' | 'appointment.updated' | 'appointment.cancelled',
    ids: string[],
    previousProfessionalId?: string,
    previousStatuses?: ReadonlyMap<string, string>,
  ) {
    const views = await viewsByIds(new ClinicData(ctx.clinicId, tx), ids);
    for (const v of views) await this.infra.events.publish(tx, name, toEvent(v, previousProfessionalId, previousStatuses?.get(v.id)), ctx);
    return views;
  }

  /**
   * After commit, before answering (not a subscriber): the writer's next read of the calendar
   * must show its own change.
   */
  async invalidateCalendars(clinicId: string, views: AppointmentView[], previousProfessionalId?: string) {
    const professionals = views.map((v) => v.professionalId);
    if (previousProfessionalId) professionals.push(previousProfessionalId);
    await this.calendars.invalidate(clinicId, professionals);
  }

  async hasAppointments(clinicId: string, contactId: string) {
    const [row] = await this.data(clinicId).pick({ id: appointments.id }, appointments, eq(appointments.contactId, contactId)).limit(1);
    return Boolean(row);
  }

  forContact(clinicId: string, contactId: string) {
    return selectViews(this.data(clinicId), eq(appointments.contactId, contactId));
  }
}
