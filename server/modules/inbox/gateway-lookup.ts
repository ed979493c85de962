import { desc, eq, inArray, isNotNull } from 'drizzle-orm';
import { messages } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import type { ChannelProvider, StoredMessage } from '../integrations/providers.js';
import type { MessageRow } from './messages.js';

/** What the gateway's store says of a send whose answer was lost. */
export type Finding = { sent: StoredMessage } | { absent: true } | { unknown: 'too_many_messages' | 'nothing_to_compare' | 'gateway_keeps_no_messages' };

/** The window searched: from this long before the message was stored to this long after now (the gateway's clock is not ours). */
const CLOCK_SKEW_MS = 60_000;
/** Pages of that window read at most (2,000 messages: WhatsApp paces a number at about one a second); past them it is left to the staff. */
const MAX_PAGES = 20;

/**
 * Looks the message up among the ones we sent that the gateway stored since it was written: same
 * recipient, type and text, with an id no message of ours holds yet (the oldest wins, as the webhook
 * echo's match does). Not finding it proves it was not sent only if the store holds a message we
 * know it had (the number's latest with a WhatsApp id): a gateway that saves no messages proves nothing.
 */
export async function findOnGateway(client: ChannelProvider, data: ClinicData, m: MessageRow, recipients: string[]): Promise<Finding> {
  const since = new Date(m.createdAt.getTime() - CLOCK_SKEW_MS);
  const until = new Date(Date.now() + CLOCK_SKEW_MS);
  const same = (s: StoredMessage) => s.fromMe && s.type === m.type && s.text === m.text && s.addresses.some((a) => recipients.includes(a));
  const candidates: StoredMessage[] = [];
  for (let page = 1; ; page++) {
    const { items, pages } = await client.findMessages({ fromMe: true, since, until, page });
    candidates.push(...items.filter(same));
    if (page >= pages || items.length === 0) break;
    if (page === MAX_PAGES) return { unknown: 'too_many_messages' };
  }
  if (candidates.length > 0) {
    const ids = candidates.map((c) => c.externalId);
    const held = new Set((await data.pick({ externalId: messages.externalId }, messages, eq(messages.numberId, m.numberId), inArray(messages.externalId, ids))).map((r) => r.externalId));
    const [oldest] = candidates.filter((c) => !held.has(c.externalId)).sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
    if (oldest) return { sent: oldest };
  }
  const [known] = await data.pick({ externalId: messages.externalId }, messages, eq(messages.numberId, m.numberId), isNotNull(messages.externalId)).orderBy(desc(messages.sentAt)).limit(1);
  if (!known?.externalId) return { unknown: 'nothing_to_compare' };
  const { items } = await client.findMessages({ externalId: known.externalId });
  return items.length > 0 ? { absent: true } : { unknown: 'gateway_keeps_no_messages' };
}
