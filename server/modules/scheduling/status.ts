import type { APPOINTMENT_STATUSES } from '../../../shared/schema/index.js';

export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** The one status vocabulary and its allowed moves. */
const TRANSITIONS: Record<AppointmentStatus, readonly AppointmentStatus[]> = {
  scheduled: ['confirmed', 'arrived', 'no_show', 'cancelled'],
  confirmed: ['scheduled', 'arrived', 'no_show', 'cancelled'],
  arrived: ['in_progress', 'completed', 'cancelled'],
  in_progress: ['completed'],
  completed: [],
  // A patient marked absent by mistake can be booked back into the slot (if still free).
  no_show: ['scheduled'],
  cancelled: [],
};

export const canMove = (from: AppointmentStatus, to: AppointmentStatus) => TRANSITIONS[from].includes(to);

/** Time, professional and patient change only before the patient arrives. */
export const isMovable = (status: AppointmentStatus) => status === 'scheduled' || status === 'confirmed';
