export * from './core.js';
export * from './contacts.js';
export * from './scheduling.js';
export * from './clinical.js';
export * from './integrations.js';
export * from './outbox.js';
export * from './whatsapp.js';
export * from './knowledge.js';
