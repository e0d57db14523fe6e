export * from './admin-api/index.js';
export * from './concurrency/deadline-signal.js';
export * from './concurrency/keyed-mutex.js';
export * from './config/index.js';
export * from './errors/index.js';
export * from './labels/index.js';
export * from './logger/index.js';
export * from './protocol/index.js';
