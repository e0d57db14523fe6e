export * from './cloudflare-emulator/index.js';
