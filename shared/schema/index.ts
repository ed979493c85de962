export * from './core.js';
export * from './contacts.js';
