export * from './core.js';
export * from './contacts.js';
export * from './clinical.js';
