export * from './access-policies.js';
export * from './agents.js';
export * from './audit.js';
export * from './conflicts.js';
export * from './keys.js';
export * from './paths.js';
export * from './reconcile.js';
export * from './route-views.js';
