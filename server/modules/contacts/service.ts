import { and, count, desc, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { foldText, normalizeCpf, normalizePhone } from '../../../shared/api/brazil.js';
import type { contactBody, contactListQuery, contactPatch } from '../../../shared/api/contacts.js';
import type { ContactEvent } from '../../../shared/api/events.js';
import { contacts } from '../../../shared/schema/index.js';
import { ClinicData, ClinicQueries, placeholder } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { conflict, notFound } from '../../lib/errors.js';
import { afterCursorPlaceholders, cursorValues, page } from '../../lib/cursor.js';
import { UNIQUE_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import type { AuditScope, AuditService } from '../audit/service.js';
import type { Providers } from '../module.js';

export type Contact = typeof contacts.$inferSelect;
type ContactInput = z.infer<typeof contactBody>;
type ContactPatch = z.infer<typeof contactPatch>;
type ListQuery = z.infer<typeof contactListQuery>;

/**
 * Whether a feature holds data about the patient. Dependents (appointments) make deletion soft;
 * clinical history (records, anamneses) refuses it: it must stay reachable by professionals and
 * for LGPD requests.
 */
export type DependentsCheck = (clinicId: string, contactId: string) => Promise<boolean>;

/** Who writes: a request, or a job acting for the clinic (WhatsApp ingestion creates leads, actor null). */
export type ContactWriter = AuditScope & { requestId?: string | null };

const publicColumns = {
  id: contacts.id,
  name: contacts.name,
  phone: contacts.phone,
  email: contacts.email,
  cpf: contacts.cpf,
  birthDate: contacts.birthDate,
  status: contacts.status,
  notes: contacts.notes,
  tags: contacts.tags,
  createdAt: contacts.createdAt,
  updatedAt: contacts.updatedAt,
};

/** The registration of an anonymised patient. */
const ANONYMIZED = { name: 'Paciente anonimizado', phone: null, email: null, cpf: null, birthDate: null, notes: null };

/** What search matches: folded name and email, phone digits (with and without +55), CPF digits. */
function searchTextOf(c: { name: string; email?: string | null; phone?: string | null; cpf?: string | null }): string {
  const phoneDigits = c.phone?.replace(/\D/g, '') ?? '';
  return foldText([c.name, c.email, phoneDigits, c.cpf].filter(Boolean).join(' '));
}

export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** What a search looks for: a whole phone and/or CPF, or `terms` substrings of the search column. */
export interface SearchShape {
  phone: boolean;
  cpf: boolean;
  terms: number;
}

/**
 * A search as the shape of a prepared query and its placeholder values (`searchPhone`,
 * `searchCpf`, `search0`...). Every word must appear (accent- and case-insensitive). A whole phone
 * (any form) or CPF is an exact, indexed match; other numbers match by their digits. Also what the
 * inbox's search uses.
 */
export function contactSearch(search: string): { shape: SearchShape; values: Record<string, string | null> } {
  if (/^[\d\s().+-]+$/.test(search)) {
    const phone = normalizePhone(search);
    const cpf = normalizeCpf(search);
    if (phone || cpf) return { shape: { phone: phone !== null, cpf: cpf !== null, terms: 0 }, values: { searchPhone: phone, searchCpf: cpf } };
    const digits = search.replace(/\D/g, '');
    return substrings(digits ? [digits] : []);
  }
  const words = foldText(search)
    .split(/\s+/)
    .map((w) => w.replace(/[().,;]+/g, ''))
    .filter((w) => w.length > 0);
  return substrings(words);
}

const substrings = (terms: string[]) => ({
  shape: { phone: false, cpf: false, terms: terms.length },
  values: Object.fromEntries(terms.map((t, i) => [`search${i}`, `%${escapeLike(t)}%`])),
});

/** The condition of a search's shape, on the placeholders `contactSearch` fills. */
export function contactSearchCondition(s: SearchShape): SQL {
  if (s.phone || s.cpf) {
    return or(s.phone ? eq(contacts.phone, placeholder('searchPhone', contacts.phone)) : undefined, s.cpf ? eq(contacts.cpf, placeholder('searchCpf', contacts.cpf)) : undefined) as SQL;
  }
  const terms = Array.from({ length: s.terms }, (_, i) => sql`${contacts.searchText} like ${sql.placeholder(`search${i}`)}`);
  return terms.length > 0 ? (and(...terms) as SQL) : sql`true`;
}

/** Which filters a patient list has: the shape of its prepared queries. */
interface ListShape {
  status: boolean;
  tag: boolean;
  search: SearchShape | null;
  cursor: boolean;
}

const listConditions = (s: ListShape) => [
  isNull(contacts.deletedAt),
  s.status ? eq(contacts.status, placeholder('status', contacts.status)) : undefined,
  s.tag ? sql`${sql.placeholder('tag')} = any(${contacts.tags})` : undefined,
  s.search ? contactSearchCondition(s.search) : undefined,
  s.cursor ? afterCursorPlaceholders(contacts.createdAt, contacts.id) : undefined,
];

export class ContactService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly providers: Pick<Providers, 'dependents' | 'clinicalHistory'>,
  ) {
    this.lists = new ClinicQueries(infra.db, 'contacts.list', (data, s) =>
      data
        .pick(publicColumns, contacts, ...listConditions(s))
        .orderBy(desc(contacts.createdAt), desc(contacts.id))
        .limit(sql.placeholder('limit'))
        .offset(sql.placeholder('offset')),
    );
    this.counts = new ClinicQueries(infra.db, 'contacts.count', (data, s) => data.pick({ n: count() }, contacts, ...listConditions(s)));
  }

  /** The patients list and its count (offset pages), built once per shape: a search is a cache-miss path. */
  private readonly lists: ClinicQueries<ListShape, Pick<Contact, keyof typeof publicColumns>[]>;
  private readonly counts: ClinicQueries<ListShape, { n: number }[]>;

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** A live patient of this clinic, or 404 (also for another clinic's or a deleted one). */
  async get(clinicId: string, id: string): Promise<Contact> {
    const [row] = await this.data(clinicId).select(contacts, eq(contacts.id, id), isNull(contacts.deletedAt));
    if (!row) throw notFound('Contact');
    return row;
  }

  async read(clinicId: string, id: string) {
    return this.publicView(await this.get(clinicId, id));
  }

  async list(clinicId: string, q: ListQuery) {
    const search = q.search ? contactSearch(q.search) : undefined;
    const offsetPage = this.infra.config.enablePagination ? q.page : undefined;
    const shape = { status: q.status !== undefined, tag: q.tag !== undefined, search: search?.shape ?? null, cursor: offsetPage === undefined && q.cursor !== undefined };
    const values = { ...search?.values, status: q.status, tag: q.tag, ...cursorValues(shape.cursor ? q.cursor : undefined) };
    if (offsetPage !== undefined) {
      const [rows, [total]] = await Promise.all([
        this.lists.run(shape, clinicId, { ...values, limit: q.limit, offset: (offsetPage - 1) * q.limit }),
        this.counts.run(shape, clinicId, values),
      ]);
      const n = total?.n ?? 0;
      return { items: rows.map((r) => this.publicView(r)), nextCursor: null, page: offsetPage, total: n };
    }
    const rows = await this.lists.run(shape, clinicId, { ...values, limit: q.limit + 1, offset: 0 });
    const result = page(rows, q.limit);
    return { items: result.items.map((r) => this.publicView(r)), nextCursor: result.nextCursor };
  }

  async create(ctx: ContactWriter, input: ContactInput) {
    await this.assertUnique(ctx.clinicId, input);
    const row = await this.unique(ctx.clinicId, input, undefined, () =>
      this.data(ctx.clinicId).transaction(async (data, tx) => {
        const [created] = await data.insert(contacts, { ...input, searchText: searchTextOf(input) }).returning(publicColumns);
        if (!created) throw new Error('insert returned nothing');
        await this.audit.record(ctx, { action: 'contact.created', entityType: 'contact', entityId: created.id, contactId: created.id }, tx);
        await this.infra.events.publish(tx, 'contact.created', this.event(created), ctx);
        return created;
      }),
    );
    return this.publicView(row);
  }

  async update(ctx: ContactWriter, id: string, patch: ContactPatch) {
    const current = await this.get(ctx.clinicId, id);
    await this.assertUnique(ctx.clinicId, patch, id);
    const merged = { ...current, ...patch };
    const row = await this.unique(ctx.clinicId, patch, id, () =>
      this.data(ctx.clinicId).transaction(async (data, tx) => {
        const [updated] = await data
          .update(contacts, { ...patch, searchText: searchTextOf(merged), updatedAt: new Date() }, eq(contacts.id, id), isNull(contacts.deletedAt))
          .returning(publicColumns);
        if (!updated) throw notFound('Contact');
        await this.audit.record(ctx, { action: 'contact.updated', entityType: 'contact', entityId: id, contactId: id, details: { fields: Object.keys(patch) } }, tx);
        await this.infra.events.publish(tx, 'contact.updated', this.event(updated), ctx);
        return updated;
      }),
    );
    return this.publicView(row);
  }

  /**
   * Hard delete for a patient nobody recorded anything about; soft (hidden, history kept) with
   * appointments; refused (409 has_clinical_records) with clinical history, which a hidden patient
   * would cut off from the professionals (records, export, verify all answer 404 for it).
   */
  async remove(ctx: ContactWriter, id: string) {
    await this.get(ctx.clinicId, id);
    const clinical = await Promise.all(this.providers.clinicalHistory.map((check) => check(ctx.clinicId, id)));
    if (clinical.some(Boolean)) {
      throw conflict(
        'has_clinical_records',
        'This patient has medical records or anamnesis forms, which must be kept: the patient cannot be deleted. For an LGPD erasure request an admin anonymises the patient instead',
      );
    }
    const checks = await Promise.all(this.providers.dependents.map((check) => check(ctx.clinicId, id)));
    const soft = checks.some(Boolean);
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const live = [eq(contacts.id, id), isNull(contacts.deletedAt)];
      const [row] = soft
        ? await data.update(contacts, { deletedAt: new Date(), updatedAt: new Date() }, ...live).returning({ id: contacts.id })
        : await data.delete(contacts, ...live).returning({ id: contacts.id });
      if (!row) throw notFound('Contact');
      await this.audit.record(ctx, { action: 'contact.deleted', entityType: 'contact', entityId: id, contactId: id, details: { soft } }, tx);
      await this.infra.events.publish(tx, 'contact.deleted', { id }, ctx);
    });
  }

  /** 409 with the existing patient's id when the CPF or phone is already taken in this clinic. */
  private async assertUnique(clinicId: string, input: { cpf?: string | null; phone?: string | null }, exceptId?: string) {
    for (const field of ['cpf', 'phone'] as const) {
      const value = input[field];
      if (!value) continue;
      const [existing] = await this.data(clinicId).pick({ id: contacts.id }, contacts, eq(contacts[field], value), isNull(contacts.deletedAt));
      if (existing && existing.id !== exceptId) {
        throw conflict('contact_duplicate', `A patient with this ${field === 'cpf' ? 'CPF' : 'phone'} already exists`, { field, existingId: existing.id });
      }
    }
  }

  /** The unique indexes settle a race between two identical creations; the loser gets the same 409. */
  private async unique<T>(clinicId: string, input: { cpf?: string | null; phone?: string | null }, exceptId: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (pgErrorCode(err) === UNIQUE_VIOLATION) await this.assertUnique(clinicId, input, exceptId);
      throw err;
    }
  }

  private event(c: { id: string; name: string; phone: string | null; status: string }): ContactEvent {
    return { id: c.id, name: c.name, phone: c.phone, status: c.status };
  }

  private publicView<T extends { createdAt: Date; updatedAt: Date }>(c: T) {
    const { id, name, phone, email, cpf, birthDate, status, notes, tags, createdAt, updatedAt } = c as unknown as Contact;
    return { id, name, phone, email, cpf, birthDate, status, notes, tags, createdAt, updatedAt };
  }

  /**
   * LGPD erasure, irreversible: identifying and marketing data (tags) are wiped and the patient is
   * marked anonymised. Clinical rows elsewhere keep the id. Returns false when already anonymised.
   */
  async anonymize(ctx: TenantContext, id: string, tx: Tx): Promise<boolean> {
    const now = new Date();
    const [row] = await new ClinicData(ctx.clinicId, tx)
      .update(
        contacts,
        // The search column is rebuilt too, or the old name would stay findable.
        { ...ANONYMIZED, searchText: searchTextOf(ANONYMIZED), tags: [], status: 'inactive', anonymizedAt: now, updatedAt: now },
        eq(contacts.id, id),
        isNull(contacts.deletedAt),
        isNull(contacts.anonymizedAt),
      )
      .returning({ id: contacts.id });
    if (!row) return false;
    await this.audit.record(ctx, { action: 'contact.anonymized', entityType: 'contact', entityId: id, contactId: id }, tx);
    // Screens and cached calendars drop the old name too.
    await this.infra.events.publish(tx, 'contact.updated', this.event({ id, name: ANONYMIZED.name, phone: null, status: 'inactive' }), ctx);
    return true;
  }
}
