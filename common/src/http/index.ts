export * from './read-body.js';
export * from './send-json.js';
