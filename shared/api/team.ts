import { z } from 'zod';
import { email, isoTimestamp, password, personName, role, timezone, workingHours } from './common.js';

export const clinicPatch = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  timezone: timezone.optional(),
  workingHours: workingHours.nullable().optional(),
  phone: z.string().max(40).nullable().optional(),
  email: email.nullable().optional(),
  address: z.string().max(500).nullable().optional(),
  document: z.string().max(40).nullable().optional(),
});
export const clinicResponse = z.object({
  id: z.uuid(),
  name: z.string(),
  timezone: z.string(),
  workingHours: workingHours.nullable(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  address: z.string().nullable(),
  document: z.string().nullable(),
});

export const teamMember = z.object({
  userId: z.uuid(),
  name: z.string(),
  email: z.string(),
  role,
  isProfessional: z.boolean(),
  active: z.boolean(),
  timezone: z.string().nullable(),
  workingHours: workingHours.nullable(),
});
export const teamPatch = z
  .strictObject({
    role: role.optional(),
    isProfessional: z.boolean().optional(),
    active: z.boolean().optional(),
    timezone: timezone.nullable().optional(),
    workingHours: workingHours.nullable().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'Nothing to change');

export const invitationBody = z.strictObject({ email, name: personName, role, isProfessional: z.boolean().optional() });
export const invitationCreated = z.object({ id: z.uuid(), token: z.string(), expiresAt: isoTimestamp });
/** Whether the email already has an account is not said: whoever holds the token may be the inviter. */
export const invitationPublic = z.object({
  clinicName: z.string(),
  email: z.string(),
  name: z.string(),
  role,
  expiresAt: isoTimestamp,
});
/** The public link creates a new account; an email that has one gets 409 `account_exists`. */
export const invitationAccept = z.strictObject({ name: personName.optional(), password });
/** Accepting from the invitee's own signed-in session: nothing to send. */
export const invitationAcceptAsMember = z.strictObject({});
export const pendingInvitation = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role,
  isProfessional: z.boolean(),
  invitedBy: z.uuid().nullable(),
  createdAt: isoTimestamp,
  expiresAt: isoTimestamp,
});
/** What a member's loss of admin rights or membership revoked with it. */
export const revokedWithMember = z.object({ revokedInvitations: z.number().int(), revokedApiKeys: z.number().int() });
export const teamMemberChanged = teamMember.extend(revokedWithMember.shape);

export const professional = z.object({
  userId: z.uuid(),
  name: z.string(),
  email: z.string(),
  timezone: z.string(),
  workingHours: workingHours,
});
