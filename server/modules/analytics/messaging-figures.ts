import { sql } from 'drizzle-orm';
import type { MessagingFigures } from '../../../shared/api/analytics.js';
import { messages } from '../../../shared/schema/index.js';
import type { ClinicData } from '../../infra/clinic-data.js';
import { rowsOf, type Db } from '../../infra/db.js';
import { ratio, type Periods } from './periods.js';
import { pairOf, type Pair } from './sides.js';

type Sender = 'contact' | 'user' | 'phone' | 'ai' | 'system';

interface VolumeRow {
  current: boolean;
  direction: 'inbound' | 'outbound';
  sender: Sender;
  author_user_id: string | null;
  n: number;
}
interface ResponseRow {
  current: boolean;
  kind: 'human' | 'ai';
  /** Null on the rows of the clinic's total. */
  author_user_id: string | null;
  is_total: number;
  n: number;
  median: number;
}
interface AssistantRow {
  current: boolean;
  ai_conversations: number;
  handoffs: number;
}

/** A member's row holds what they sent and how fast they answered: patients' messages and the assistant's belong to the clinic. */
export const MEMBER_UNATTRIBUTED = ['inbound', 'aiResponses', 'aiConversations', 'aiHandoffs'] as const;

/** An answer to a patient's message may come this long after the period's last day. */
const ANSWER_GRACE = sql.raw(`interval '7 days'`);

/**
 * WhatsApp volume, median first response and AI handoffs (docs/analytics.md). A wait starts at a
 * patient's message that follows an answer (or opens the conversation); its first response is the
 * next outbound message not sent by the system (reminders are no answer). A handoff is recorded by
 * the assistant itself: the message it sends when it hands a conversation to a person carries
 * `meta.handoff` (its reason).
 */
export async function messagingFigures(db: Db, data: ClinicData, p: Periods): Promise<Pair<MessagingFigures>> {
  const { previousStart, currentStart, end } = p.sql;
  const inPeriods = sql`sent_at >= ${previousStart} and sent_at < ${end}`;
  const [volume, responses, assistant] = await Promise.all([
    db.execute(sql`
      select sent_at >= ${currentStart} as current, direction, sender, author_user_id, count(*)::int as n
      from ${messages} where ${data.owns(messages, inPeriods)}
      group by 1, 2, 3, 4`),
    // One ordered pass per conversation: a patient's message after an answer (or first) starts a
    // wait; the outbound message right after a patient's one answers the latest wait.
    db.execute(sql`
      with m as (
        select conversation_id, id, direction, sender, author_user_id, sent_at, lag(direction) over (partition by conversation_id order by sent_at, id) as before
        from ${messages}
        where ${data.owns(messages, sql`sender <> 'system' and sent_at >= ${previousStart} and sent_at < ${end} + ${ANSWER_GRACE}`)}
      ), answers as (
        select direction, sender, author_user_id, sent_at, before,
          max(sent_at) filter (where direction = 'inbound' and before is distinct from 'inbound') over (partition by conversation_id order by sent_at, id rows unbounded preceding) as asked_at
        from m
      ), responses as (
        select asked_at >= ${currentStart} as current, case when sender = 'ai' then 'ai' else 'human' end as kind,
          author_user_id, extract(epoch from sent_at - asked_at)::float8 as seconds
        from answers
        where direction = 'outbound' and before = 'inbound' and asked_at >= ${previousStart} and asked_at < ${end}
      )
      select current, kind, author_user_id, grouping(author_user_id) as is_total, count(*)::int as n,
        (percentile_cont(0.5) within group (order by seconds))::float8 as median
      from responses group by grouping sets ((current, kind), (current, kind, author_user_id))`),
    db.execute(sql`
      select sent_at >= ${currentStart} as current, count(distinct conversation_id)::int as ai_conversations,
        count(distinct conversation_id) filter (where meta ->> 'handoff' is not null)::int as handoffs
      from ${messages} where ${data.owns(messages, sql`sender = 'ai' and ${inPeriods}`)}
      group by 1`),
  ]);

  const empty = (): MessagingFigures => ({
    inbound: 0,
    outbound: 0,
    outboundBySender: { user: 0, phone: 0, ai: 0, system: 0 },
    medianFirstResponseSecondsHuman: null,
    medianFirstResponseSecondsAi: null,
    humanResponses: 0,
    aiResponses: 0,
    aiConversations: 0,
    aiHandoffs: 0,
    aiHandoffRate: null,
  });
  const { pair, at } = pairOf(empty);
  for (const r of rowsOf<VolumeRow>(volume)) {
    const total = at(r.current, null);
    if (r.direction === 'inbound') {
      total.inbound = (total.inbound ?? 0) + r.n;
      continue;
    }
    const targets = r.author_user_id ? [total, at(r.current, r.author_user_id)] : [total];
    for (const f of targets) {
      f.outbound += r.n;
      if (r.sender !== 'contact') f.outboundBySender[r.sender] += r.n;
    }
  }
  for (const r of rowsOf<ResponseRow>(responses)) {
    if (r.is_total === 0 && r.author_user_id === null) continue;
    const f = r.is_total === 1 ? at(r.current, null) : at(r.current, r.author_user_id!);
    if (r.kind === 'ai') Object.assign(f, { aiResponses: r.n, medianFirstResponseSecondsAi: r.median });
    else Object.assign(f, { humanResponses: r.n, medianFirstResponseSecondsHuman: r.median });
  }
  for (const r of rowsOf<AssistantRow>(assistant)) {
    const f = at(r.current, null);
    Object.assign(f, { aiConversations: r.ai_conversations, aiHandoffs: r.handoffs, aiHandoffRate: ratio(r.handoffs, r.ai_conversations) });
  }
  return pair;
}
