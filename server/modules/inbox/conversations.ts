import { and, desc, eq, exists, gt, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import { foldText } from '../../../shared/api/brazil.js';
import type { ConversationListQuery, ConversationPatch, ConversationView } from '../../../shared/api/inbox.js';
import { contacts, conversations, memberships, messages, whatsappNumbers } from '../../../shared/schema/index.js';
import type { ConversationStatus } from '../../../shared/schema/whatsapp.js';
import { ClinicData, ClinicQueries, placeholder } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Infra } from '../../infra/index.js';
import type { EventMeta } from '../../infra/outbox.js';
import { afterCursorPlaceholders, cursorValues, encodeCursor } from '../../lib/cursor.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { contactSearch, contactSearchCondition, escapeLike, type SearchShape } from '../contacts/service.js';
import { viewerKind, visibleNumbers, type Viewer, type ViewerKind } from './access.js';

const PREVIEW_CHARS = 200;
export const preview = (text: string | null) => (text === null ? null : text.slice(0, PREVIEW_CHARS));

const columns = {
  id: conversations.id,
  status: conversations.status,
  assigneeId: conversations.assigneeId,
  snoozedUntil: conversations.snoozedUntil,
  unreadCount: conversations.unreadCount,
  aiEnabled: conversations.aiEnabled,
  lastMessageAt: conversations.lastMessageAt,
  activityAt: conversations.activityAt,
  createdAt: conversations.createdAt,
  updatedAt: conversations.updatedAt,
  contactId: contacts.id,
  contactName: contacts.name,
  contactPhone: contacts.phone,
  numberId: whatsappNumbers.id,
  numberName: whatsappNumbers.name,
  numberPhone: whatsappNumbers.phone,
  numberState: whatsappNumbers.state,
  numberProfessionalId: whatsappNumbers.professionalId,
  lastId: messages.id,
  lastDirection: messages.direction,
  lastType: messages.type,
  lastStatus: messages.status,
  lastText: messages.text,
  lastSentAt: messages.sentAt,
};

type Row = Awaited<ReturnType<typeof viewQuery>>[number];

function view(r: Row): ConversationView {
  return {
    id: r.id,
    status: r.status,
    assigneeId: r.assigneeId,
    snoozedUntil: r.snoozedUntil?.toISOString() ?? null,
    unreadCount: r.unreadCount,
    aiEnabled: r.aiEnabled,
    lastMessageAt: r.lastMessageAt?.toISOString() ?? null,
    lastMessage:
      r.lastId && r.lastDirection && r.lastType && r.lastStatus && r.lastSentAt
        ? { id: r.lastId, direction: r.lastDirection, type: r.lastType, status: r.lastStatus, preview: preview(r.lastText), sentAt: r.lastSentAt.toISOString() }
        : null,
    contact: { id: r.contactId, name: r.contactName, phone: r.contactPhone },
    number: { id: r.numberId, name: r.numberName, phone: r.numberPhone, state: r.numberState, professionalId: r.numberProfessionalId },
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** Which filters a conversation read has: the shape of its prepared query. */
interface Shape {
  viewer: ViewerKind;
  id?: true;
  status?: true;
  assignee?: 'none' | 'one';
  numberId?: true;
  unread?: 'true' | 'false';
  search?: SearchShape;
  cursor?: true;
}

/**
 * Conversations with their contact, number and last message, newest activity first, on the
 * placeholders named as the filters, plus `viewerId`, `searchText`, `cursorAt`, `cursorId` and `limit`.
 */
function viewQuery(data: ClinicData, s: Shape) {
  return data
    .pick(
      columns,
      conversations,
      visibleNumbers(s.viewer),
      s.id ? eq(conversations.id, placeholder('id', conversations.id)) : undefined,
      s.status ? eq(conversations.status, placeholder('status', conversations.status)) : undefined,
      s.assignee === 'none' ? isNull(conversations.assigneeId) : s.assignee ? eq(conversations.assigneeId, placeholder('assigneeId', conversations.assigneeId)) : undefined,
      s.numberId ? eq(conversations.numberId, placeholder('numberId', conversations.numberId)) : undefined,
      s.unread === 'true' ? sql`${conversations.unreadCount} > 0` : s.unread === 'false' ? sql`${conversations.unreadCount} = 0` : undefined,
      s.search ? searchCondition(data, s.search) : undefined,
      s.cursor ? afterCursorPlaceholders(conversations.activityAt, conversations.id) : undefined,
    )
    .innerJoin(whatsappNumbers, data.owns(whatsappNumbers, eq(whatsappNumbers.id, conversations.numberId)))
    .innerJoin(contacts, data.owns(contacts, eq(contacts.id, conversations.contactId)))
    .leftJoin(messages, data.owns(messages, eq(messages.id, conversations.lastMessageId)))
    .orderBy(desc(conversations.activityAt), desc(conversations.id))
    .limit(sql.placeholder('limit'));
}

/**
 * The contact's name or phone (as the patients list matches them), or any message's text without
 * accents or case ("medico" finds "Médico"), on the trigram index of opb_unaccent(lower(text)).
 */
function searchCondition(data: ClinicData, shape: SearchShape): SQL {
  const inMessages = data.pick({ one: sql`1` }, messages, eq(messages.conversationId, conversations.id), sql`opb_unaccent(lower(${messages.text})) like opb_unaccent(${sql.placeholder('searchText')})`);
  return or(contactSearchCondition(shape), exists(inMessages)) as SQL;
}

/** The inbox: conversations a viewer may see, their filters, assignment, status and snooze. */
export class ConversationService {
  /** Reads built once per shape: the inbox list is a cache-miss path. */
  private readonly views: ClinicQueries<Shape, Row[]>;
  private readonly visible: ClinicQueries<ViewerKind, { id: string }[]>;

  constructor(private readonly infra: Infra) {
    this.views = new ClinicQueries(infra.db, 'conversations', viewQuery);
    this.visible = new ClinicQueries(infra.db, 'conversations.visible', (data, kind) =>
      data
        .pick({ id: conversations.id }, conversations, eq(conversations.id, placeholder('id', conversations.id)), visibleNumbers(kind))
        .innerJoin(whatsappNumbers, data.owns(whatsappNumbers, eq(whatsappNumbers.id, conversations.numberId))),
    );
  }

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /**
   * Newest activity first, cursor on (activity_at, id): the last message's time, or the creation of
   * a conversation without any (a reminder's before it is sent, or one whose messages were removed).
   */
  async list(viewer: Viewer, q: ConversationListQuery) {
    const search = q.search ? contactSearch(q.search) : undefined;
    const shape: Shape = {
      viewer: viewerKind(viewer),
      ...(q.status && { status: true }),
      ...(q.assigneeId && { assignee: q.assigneeId === 'none' ? 'none' : 'one' }),
      ...(q.numberId && { numberId: true }),
      ...(q.unread && { unread: q.unread }),
      ...(search && { search: search.shape }),
      ...(q.cursor && { cursor: true }),
    };
    const rows = await this.views.run(shape, viewer.clinicId, {
      ...q,
      ...search?.values,
      ...cursorValues(q.cursor),
      viewerId: viewer.userId,
      searchText: q.search ? `%${escapeLike(foldText(q.search))}%` : null,
      limit: q.limit + 1,
    });
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    const more = rows.length > q.limit && last;
    return { items: items.map(view), nextCursor: more ? encodeCursor({ createdAt: last.activityAt, id: last.id }) : null };
  }

  /** One conversation the viewer may see; 404 for another clinic's, a missing one, or a private number's. */
  async get(viewer: Viewer, id: string): Promise<ConversationView> {
    const [row] = await this.views.run({ viewer: viewerKind(viewer), id: true }, viewer.clinicId, { id, viewerId: viewer.userId, limit: 1 });
    if (!row) throw notFound('Conversation');
    return view(row);
  }

  async canSee(viewer: Viewer, id: string): Promise<boolean> {
    const [row] = await this.visible.run(viewerKind(viewer), viewer.clinicId, { id, viewerId: viewer.userId });
    return Boolean(row);
  }

  async update(viewer: Viewer, meta: EventMeta, id: string, patch: ConversationPatch): Promise<ConversationView> {
    const current = await this.get(viewer, id);
    const set = await this.changes(viewer.clinicId, current, patch);
    await this.data(viewer.clinicId).transaction(async (data, tx) => {
      const [row] = await data.update(conversations, { ...set, updatedAt: sql`now()` }, eq(conversations.id, id)).returning();
      if (row) await this.published(tx, row, meta, current.assigneeId);
    });
    return this.get(viewer, id);
  }

  /** What a patch sets: snoozing needs a future instant, any other status clears it; an assignee must be able to see the conversation. */
  private async changes(clinicId: string, current: ConversationView, patch: ConversationPatch) {
    const set: { status?: ConversationStatus; snoozedUntil?: Date | null; assigneeId?: string | null; aiEnabled?: boolean } = {};
    const status = patch.status ?? (patch.snoozedUntil ? 'snoozed' : undefined);
    if (status === 'snoozed') {
      const until = patch.snoozedUntil ? new Date(patch.snoozedUntil) : null;
      if (!until || until.getTime() <= Date.now()) throw badRequest('snooze_requires_future_time', 'Para adiar, informe uma data futura em snoozedUntil');
      Object.assign(set, { status, snoozedUntil: until });
    } else if (status) {
      if (patch.snoozedUntil) throw badRequest('snooze_requires_snoozed_status', 'snoozedUntil só vale para o status snoozed');
      Object.assign(set, { status, snoozedUntil: null });
    }
    if (patch.assigneeId !== undefined) {
      if (patch.assigneeId !== null) await this.assertAssignable(clinicId, current, patch.assigneeId);
      set.assigneeId = patch.assigneeId;
    }
    if (patch.aiEnabled !== undefined) set.aiEnabled = patch.aiEnabled;
    return set;
  }

  private async assertAssignable(clinicId: string, current: ConversationView, userId: string) {
    const [member] = await this.data(clinicId).pick({ role: memberships.role }, memberships, eq(memberships.userId, userId), eq(memberships.active, true));
    const owner = current.number.professionalId;
    if (!member || (owner && owner !== userId && member.role !== 'admin')) {
      throw badRequest('invalid_assignee', 'O responsável deve ser um membro ativo da clínica que possa ver esta conversa');
    }
  }

  /**
   * The conversation of a number and a patient, created when a feature writes first (a reminder).
   * A new one starts `resolved`: nothing waits for the staff until the patient answers, which reopens it.
   */
  async ensure(clinicId: string, numberId: string, contactId: string): Promise<string> {
    const [row] = await this.data(clinicId)
      .insert(conversations, { numberId, contactId, status: 'resolved' })
      .onConflictDoUpdate({ target: [conversations.numberId, conversations.contactId], set: { numberId: sql`excluded.number_id` } })
      .returning({ id: conversations.id });
    if (!row) throw new Error('conversation upsert returned nothing');
    return row.id;
  }

  /** Zero unread; returns whether anything changed (the caller then tells WhatsApp). */
  async markRead(viewer: Viewer, meta: EventMeta, id: string): Promise<boolean> {
    await this.get(viewer, id);
    return this.data(viewer.clinicId).transaction(async (data, tx) => {
      const [row] = await data.update(conversations, { unreadCount: 0, updatedAt: sql`now()` }, eq(conversations.id, id), gt(conversations.unreadCount, 0)).returning();
      if (row) await this.published(tx, row, meta);
      return Boolean(row);
    });
  }

  /** Snoozed conversations whose time came, of every clinic (the job that runs once per cluster). */
  async wakeSnoozed(now = new Date()): Promise<number> {
    return this.infra.systemDb.transaction(async (systemTx) => {
      const woken = await systemTx
        .update(conversations)
        .set({ status: 'open', snoozedUntil: null, updatedAt: sql`now()` })
        .where(and(eq(conversations.status, 'snoozed'), lte(conversations.snoozedUntil, now)))
        .returning();
      for (const row of woken) await this.published(systemTx, row, { clinicId: row.clinicId });
      return woken.length;
    });
  }

  /** `assigneeBefore`: the assignee before this change, when the change may have set another. */
  private published(tx: Tx, row: typeof conversations.$inferSelect, meta: EventMeta, assigneeBefore?: string | null) {
    const { id, contactId, numberId, status, assigneeId, unreadCount } = row;
    const reassigned = assigneeBefore !== undefined && assigneeBefore !== assigneeId;
    return this.infra.events.publish(tx, 'conversation.updated', { id, contactId, numberId, status, assigneeId, unreadCount, ...(reassigned ? { previousAssigneeId: assigneeBefore } : {}) }, meta);
  }
}
