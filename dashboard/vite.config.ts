import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard imports @tunnelfleet/common's TypeScript (the "source" export condition), so the
// label parser and the admin API's schemas are the very ones the master runs. The one Node module
// the parser touches, node:net's isIP, is replaced by a browser implementation.
export default defineConfig({
  plugins: [react()],
  resolve: {
    conditions: ['source', 'browser', 'module', 'import', 'default'],
    alias: { 'node:net': fileURLToPath(new URL('./src/shims/node-net.ts', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline script or style anywhere: the master's Content-Security-Policy forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
});
