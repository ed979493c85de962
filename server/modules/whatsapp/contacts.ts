import { eq, inArray, isNull, sql } from 'drizzle-orm';
import { normalizePhone } from '../../../shared/api/brazil.js';
import { contactWhatsappIds, contacts, conversations, messages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { AppError } from '../../lib/errors.js';
import type { ContactService, ContactWriter } from '../contacts/service.js';
import { isPhoneJid, jidDigits, phoneVariants } from './normalize.js';

/** The name of a lead nobody named (no pushName): the inbox shows it until someone edits it. */
export const UNNAMED_LEAD = 'Contato do WhatsApp';
export const GROUP_LEAD = 'Grupo do WhatsApp';

type Known = { jid: string | null; contactId: string; phone: string | null };

export interface Sender {
  /** `...@s.whatsapp.net`, when the version told us. */
  phoneJid?: string;
  lid?: string;
  /** A group's own JID: the group is the conversation's contact. */
  groupJid?: string;
  pushName?: string;
}

const jidsOf = (who: Sender) => [who.groupJid, who.phoneJid, who.lid].filter((j): j is string => !!j);
const phonesOf = (who: Sender) => (!who.groupJid && who.phoneJid ? phoneVariants(jidDigits(who.phoneJid)) : []);
const addressesOf = (who: Sender) => [...jidsOf(who), ...phonesOf(who)];

/**
 * Who a WhatsApp address is: a contact found by the addresses it was seen with
 * (`contact_whatsapp_ids`) or by phone (both 9th-digit forms), else a new lead created through the
 * contacts service. A lid-only lead merges into the patient once a message carries both.
 */
export class WhatsappContacts {
  constructor(
    private readonly infra: Pick<Infra, 'db' | 'events'>,
    private readonly contacts: ContactService,
  ) {}

  /**
   * Several senders (a batch of deliveries), in order: one query finds every known one; a sender
   * that needs a write (a new lead, a merge, a learned phone or address) is settled on its own, and
   * the later ones are looked up again when it may have made their contact.
   */
  async resolveMany(scope: ContactWriter, senders: readonly Sender[]): Promise<string[]> {
    if (senders.length === 0) return [];
    const data = new ClinicData(scope.clinicId, this.infra.db);
    let found = await this.known(data, senders);
    // Which later sender shares an address with which: computed once, not per write.
    const lastSeen = new Map<string, number>();
    const sharedLater = new Set<number>();
    senders.forEach((who, i) => {
      for (const address of addressesOf(who)) {
        const before = lastSeen.get(address);
        if (before !== undefined && before !== i) sharedLater.add(before);
        lastSeen.set(address, i);
      }
    });
    const ids: string[] = [];
    for (const [i, who] of senders.entries()) {
      const { contactId, wrote, merged } = await this.settle(scope, data, who, found);
      ids.push(contactId);
      // A write changes what is known of this sender's own addresses (a merge, of another contact's
      // too): the later senders are looked up again only when one shares an address, not per new lead.
      if (merged || (wrote && sharedLater.has(i))) found = await this.known(data, senders.slice(i + 1));
    }
    return ids;
  }

  /** One query: the contacts known by the senders' addresses and (rows with jid null) those with their phones. */
  private async known(data: ClinicData, senders: readonly Sender[]): Promise<Known[]> {
    if (senders.length === 0) return [];
    const jids = [...new Set(senders.flatMap(jidsOf))];
    const phones = [...new Set(senders.flatMap(phonesOf))];
    const byAddress = data
      .pick({ jid: sql<string | null>`${contactWhatsappIds.jid}`, contactId: contactWhatsappIds.contactId, phone: contacts.phone }, contactWhatsappIds, inArray(contactWhatsappIds.jid, jids))
      .innerJoin(contacts, data.owns(contacts, eq(contacts.id, contactWhatsappIds.contactId), isNull(contacts.deletedAt)));
    return phones.length > 0
      ? await byAddress.unionAll(data.pick({ jid: sql<string | null>`null::text`, contactId: contacts.id, phone: contacts.phone }, contacts, inArray(contacts.phone, phones), isNull(contacts.deletedAt)))
      : await byAddress;
  }

  /** Who one sender is, given what `known` found; `wrote` when it created, merged or remembered something. */
  private async settle(scope: ContactWriter, data: ClinicData, who: Sender, found: Known[]): Promise<{ contactId: string; wrote: boolean; merged?: boolean }> {
    const jids = jidsOf(who);
    const phones = phonesOf(who);
    const byJid = (jid: string | undefined) => (jid ? found.find((k) => k.jid === jid) : undefined);

    if (who.groupJid) {
      const group = byJid(who.groupJid)?.contactId;
      return group ? { contactId: group, wrote: false } : { contactId: await this.create(scope, { name: GROUP_LEAD }, [who.groupJid]), wrote: true };
    }

    const phoneContact = byJid(who.phoneJid)?.contactId ?? found.find((k) => k.jid === null && k.phone !== null && phones.includes(k.phone))?.contactId;
    const lidOwner = byJid(who.lid);
    let contactId: string;
    let wrote = false;
    let merged = false;
    if (phoneContact && lidOwner && lidOwner.contactId !== phoneContact && !lidOwner.phone) {
      await this.merge(scope, lidOwner.contactId, phoneContact);
      contactId = phoneContact;
      wrote = merged = true;
    } else if (phoneContact ?? lidOwner) {
      contactId = (phoneContact ?? lidOwner?.contactId)!;
      // A lid-only lead learns its phone.
      if (!phoneContact && lidOwner && !lidOwner.phone && who.phoneJid) wrote = await this.learnPhone(scope, contactId, who.phoneJid);
    } else {
      const phone = who.phoneJid ? normalizePhone(jidDigits(who.phoneJid)) : null;
      contactId = await this.create(scope, { name: who.pushName ?? UNNAMED_LEAD, phone }, jids);
      wrote = true;
    }
    const unknown = jids.filter((j) => byJid(j)?.contactId !== contactId);
    if (unknown.length > 0) {
      await this.remember(data, contactId, unknown);
      wrote = true;
    }
    return { contactId, wrote, merged };
  }

  /** A lead; a race with another delivery for the same phone ends on the existing patient (409 names it). */
  private async create(scope: ContactWriter, input: { name: string; phone?: string | null }, jids: string[]): Promise<string> {
    let id: string;
    try {
      id = (await this.contacts.create(scope, { name: input.name.slice(0, 200), phone: input.phone ?? null, status: 'lead' })).id;
    } catch (err) {
      const existing = err instanceof AppError && err.code === 'contact_duplicate' ? (err.details as { existingId?: string }).existingId : undefined;
      if (!existing) throw err;
      return existing;
    }
    // Without a phone, the address is the only key: the loser of a race gives its lead up.
    const data = new ClinicData(scope.clinicId, this.infra.db);
    await this.remember(data, id, jids);
    const [owner] = await data.pick({ contactId: contactWhatsappIds.contactId }, contactWhatsappIds, inArray(contactWhatsappIds.jid, jids)).limit(1);
    if (owner && owner.contactId !== id) {
      await this.contacts.remove(scope, id);
      return owner.contactId;
    }
    return id;
  }

  private async remember(data: ClinicData, contactId: string, jids: string[]) {
    await data
      .insert(
        contactWhatsappIds,
        jids.map((jid) => ({ contactId, jid })),
      )
      .onConflictDoNothing();
  }

  async rename(scope: ContactWriter, contactId: string, name: string) {
    await this.contacts.update(scope, contactId, { name: name.slice(0, 200) });
  }

  /** True when the contact's phone was written. */
  private async learnPhone(scope: ContactWriter, contactId: string, phoneJid: string): Promise<boolean> {
    const phone = isPhoneJid(phoneJid) ? normalizePhone(jidDigits(phoneJid)) : null;
    if (!phone) return false;
    try {
      await this.contacts.update(scope, contactId, { phone });
      return true;
    } catch (err) {
      // Taken meanwhile by another patient: the next message merges them.
      if (!(err instanceof AppError && err.code === 'contact_duplicate')) throw err;
      return false;
    }
  }

  /**
   * The lid-only lead's conversations, messages and addresses move to the patient; then the lead is
   * deleted through the contacts service (soft if another feature holds rows about it).
   */
  private async merge(scope: ContactWriter, fromId: string, intoId: string) {
    const moved = await new ClinicData(scope.clinicId, this.infra.db).transaction(async (data, tx) => {
      const from = await data.select(conversations, eq(conversations.contactId, fromId));
      const changed: string[] = [];
      for (const conv of from) {
        const [target] = await data.pick({ id: conversations.id }, conversations, eq(conversations.numberId, conv.numberId), eq(conversations.contactId, intoId));
        if (!target) {
          await data.update(conversations, { contactId: intoId, updatedAt: new Date() }, eq(conversations.id, conv.id));
          changed.push(conv.id);
          continue;
        }
        await data.update(messages, { conversationId: target.id, updatedAt: new Date() }, eq(messages.conversationId, conv.id));
        await data.update(
          conversations,
          {
            unreadCount: sql`${conversations.unreadCount} + ${conv.unreadCount}`,
            lastMessageAt: sql`greatest(${conversations.lastMessageAt}, ${conv.lastMessageAt})`,
            lastMessageId: sql`case when ${conversations.lastMessageAt} is null or ${conversations.lastMessageAt} < ${conv.lastMessageAt} then ${conv.lastMessageId}::uuid else ${conversations.lastMessageId} end`,
            updatedAt: new Date(),
          },
          eq(conversations.id, target.id),
        );
        await data.delete(conversations, eq(conversations.id, conv.id));
        changed.push(target.id);
      }
      await data.update(contactWhatsappIds, { contactId: intoId }, eq(contactWhatsappIds.contactId, fromId));
      for (const id of changed) {
        const [c] = await data.select(conversations, eq(conversations.id, id));
        if (c) await this.infra.events.publish(tx, 'conversation.updated', conversationEvent(c), scope);
      }
      return changed.length;
    });
    await this.contacts.remove(scope, fromId).catch((err: unknown) => {
      if (!(err instanceof AppError && err.status === 404)) throw err;
    });
    return moved;
  }
}

/** What `conversation.updated` carries of a conversation. */
export type ConversationEvent = Pick<typeof conversations.$inferSelect, 'id' | 'contactId' | 'numberId' | 'status' | 'assigneeId' | 'unreadCount'>;

export const conversationEvent = (c: ConversationEvent) => ({
  id: c.id,
  contactId: c.contactId,
  numberId: c.numberId,
  status: c.status,
  assigneeId: c.assigneeId,
  unreadCount: c.unreadCount,
});
