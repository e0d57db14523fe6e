// The one Node module the label parser imports; vite.config.ts points it at ./node-net.ts.
declare module 'node:net' {
  export function isIP(input: string): 0 | 4 | 6;
}
