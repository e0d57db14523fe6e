export {};
export * from './protocol/index.js';
