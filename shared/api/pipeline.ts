import { z } from 'zod';
import { ACTIVITY_TYPES, HISTORY_KINDS, OPPORTUNITY_STATUSES } from '../schema/pipeline.js';
import { calendarDate, isoTimestamp } from './common.js';
import { hexColor } from './scheduling.js';
import { line, text } from './text.js';

export const opportunityStatus = z.enum(OPPORTUNITY_STATUSES);
export const activityType = z.enum(ACTIVITY_TYPES);
const nothingToChange = (v: object) => Object.keys(v).length > 0;

/** A place in a column, counted from 0 (the top); omitted: the end. Checked against the column's size. */
export const columnPosition = z.number().int().min(0).max(100_000);
/** Centavos; at most R$ 20 milhões. */
const valueCents = z.number().int().min(0).max(2_000_000_000);
const probability = z.number().int().min(0).max(100);
const lostReason = line(500);
const dueTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use HH:MM');

export const stageBody = z.strictObject({ name: line(60), color: hexColor, position: z.number().int().min(0).max(49).optional() });
export const stagePatch = z.strictObject({ name: line(60).optional(), color: hexColor.optional() }).refine(nothingToChange, 'Nothing to change');
/** Every stage id of the clinic, once each, in the new order. */
export const stageReorder = z.strictObject({ ids: z.array(z.uuid()).min(1).max(50) }).refine((b) => new Set(b.ids).size === b.ids.length, 'Each stage once');
export const stageDeleteQuery = z.strictObject({ moveTo: z.uuid().optional() });
export const stageResponse = z.object({
  id: z.uuid(),
  name: z.string(),
  color: z.string(),
  order: z.number().int(),
  defaultKey: z.string().nullable(),
  openCount: z.number().int(),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

export const opportunityBody = z.strictObject({
  contactId: z.uuid(),
  /** Omitted: the first stage. */
  stageId: z.uuid().optional(),
  position: columnPosition.optional(),
  title: line(200),
  valueCents: valueCents.nullable().optional(),
  probability: probability.nullable().optional(),
  expectedCloseDate: calendarDate.nullable().optional(),
  ownerId: z.uuid().nullable().optional(),
});

/** Edits and closing: `status: lost` needs `lostReason`; `open` reopens (the reason is cleared). */
export const opportunityPatch = z
  .strictObject({
    title: line(200).optional(),
    valueCents: valueCents.nullable().optional(),
    probability: probability.nullable().optional(),
    expectedCloseDate: calendarDate.nullable().optional(),
    ownerId: z.uuid().nullable().optional(),
    status: opportunityStatus.optional(),
    lostReason: lostReason.optional(),
  })
  .refine(nothingToChange, 'Nothing to change')
  .refine((b) => b.status !== 'lost' || b.lostReason !== undefined, { message: 'A lost opportunity needs a reason', path: ['lostReason'] })
  .refine((b) => b.lostReason === undefined || b.status === 'lost', { message: 'lostReason goes with status lost', path: ['lostReason'] });

export const opportunityMove = z.strictObject({ stageId: z.uuid(), position: columnPosition.optional() });

export const opportunityListQuery = z.strictObject({
  /** With a stage: the column in board order (by position); otherwise newest first. */
  stageId: z.uuid().optional(),
  status: opportunityStatus.optional(),
  contactId: z.uuid().optional(),
  ownerId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const opportunityResponse = z.object({
  id: z.uuid(),
  contactId: z.uuid(),
  contactName: z.string(),
  stageId: z.uuid(),
  /** Sort key within the stage (byte order); the board sorts on it after a socket event. */
  position: z.string(),
  title: z.string(),
  valueCents: z.number().int().nullable(),
  probability: z.number().int().nullable(),
  expectedCloseDate: z.string().nullable(),
  ownerId: z.uuid().nullable(),
  status: opportunityStatus,
  lostReason: z.string().nullable(),
  closedAt: isoTimestamp.nullable(),
  stageEnteredAt: isoTimestamp,
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

export const historyEntry = z.object({
  id: z.uuid(),
  kind: z.enum(HISTORY_KINDS),
  fromStageId: z.uuid().nullable(),
  toStageId: z.uuid().nullable(),
  actorId: z.uuid().nullable(),
  source: z.string(),
  at: isoTimestamp,
});
export const historyResponse = z.object({
  items: z.array(historyEntry),
  /** Each stretch the opportunity spent in a stage; `leftAt` null while it is there (and open). */
  stints: z.array(z.object({ stageId: z.uuid(), enteredAt: isoTimestamp, leftAt: isoTimestamp.nullable(), seconds: z.number().int() })),
  /** Total seconds per stage over every stint. */
  timeInStage: z.array(z.object({ stageId: z.uuid(), seconds: z.number().int() })),
});

const activityFields = {
  type: activityType,
  title: line(200),
  notes: text(10_000).nullable().optional(),
  dueDate: calendarDate.nullable().optional(),
  dueTime: dueTime.nullable().optional(),
  assigneeId: z.uuid().nullable().optional(),
};
const timeNeedsDate = { message: 'dueTime needs dueDate', path: ['dueTime'] };
export const activityBody = z.strictObject(activityFields).refine((b) => !b.dueTime || Boolean(b.dueDate), timeNeedsDate);
/** An activity about a patient, on none of their opportunities. */
export const contactActivityBody = z.strictObject({ contactId: z.uuid(), ...activityFields }).refine((b) => !b.dueTime || Boolean(b.dueDate), timeNeedsDate);
export const activityPatch = z
  .strictObject({
    type: activityType.optional(),
    title: line(200).optional(),
    notes: text(10_000).nullable().optional(),
    dueDate: calendarDate.nullable().optional(),
    dueTime: dueTime.nullable().optional(),
    assigneeId: z.uuid().nullable().optional(),
  })
  .refine(nothingToChange, 'Nothing to change');
export const activityListQuery = z.strictObject({
  contactId: z.uuid().optional(),
  assigneeId: z.uuid().optional(),
  /** Only open tasks whose due day (and time) passed in the clinic's time zone, oldest due first. */
  overdue: z.enum(['true', 'false']).optional(),
  completed: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export const activityResponse = z.object({
  id: z.uuid(),
  contactId: z.uuid(),
  opportunityId: z.uuid().nullable(),
  type: activityType,
  title: z.string(),
  notes: z.string().nullable(),
  dueDate: z.string().nullable(),
  dueTime: z.string().nullable(),
  assigneeId: z.uuid().nullable(),
  completedAt: isoTimestamp.nullable(),
  completedBy: z.uuid().nullable(),
  overdue: z.boolean(),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

const rule = z.strictObject({ enabled: z.boolean(), stageId: z.uuid().nullable().optional() });
/** Off by default. `stageId` omitted keeps the current target ("Agendado", "Em tratamento" at first). */
export const rulesBody = z.strictObject({ firstBooking: rule.optional(), firstCompletion: rule.optional() }).refine(nothingToChange, 'Nothing to change');
const ruleResponse = z.object({ enabled: z.boolean(), stageId: z.uuid().nullable() });
export const rulesResponse = z.object({ firstBooking: ruleResponse, firstCompletion: ruleResponse });
