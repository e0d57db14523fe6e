export * from './admin-token.js';
export * from './agent-key-issuer.js';
export * from './hostname-allowlist.js';
export * from './secret-hash.js';
