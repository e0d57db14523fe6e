export * from './errors/index.js';
export * from './protocol/index.js';
