import { reminderSettings, reminderSettingsPatch } from '../../../shared/api/reminders.js';
import { route } from '../../http/route.js';
import type { ReminderSettingsService } from './settings.js';

const tag = 'Reminders';

export const reminderRoutes = (settings: ReminderSettingsService) => [
  route({
    method: 'get',
    path: '/reminders/settings',
    summary: 'Appointment reminder settings (defaults, switched off, until the clinic saves its own)',
    tag,
    access: 'reminders:manage',
    response: reminderSettings,
    handler: async ({ ctx }) => settings.get(ctx.clinicId),
  }),
  route({
    method: 'put',
    path: '/reminders/settings',
    summary: 'Change the reminder settings: the fields sent replace theirs, the others keep their value (audited)',
    tag,
    access: 'reminders:manage',
    schemas: { body: reminderSettingsPatch },
    response: reminderSettings,
    handler: async ({ ctx, body }) => settings.update(ctx, body),
  }),
];
