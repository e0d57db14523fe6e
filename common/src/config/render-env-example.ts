import type { ConfigSpec } from './env-var.js';

/**
 * `.env.example` text for a spec: every variable with its explanation. Required variables without a
 * default are left uncommented with an example (secrets blank), the others are commented out with
 * their default so the file works as is once the required ones are filled in.
 */
export function renderEnvExample(spec: ConfigSpec, title?: string): string {
  const blocks: string[] = [];
  if (title) blocks.push(`# ${title}\n`);
  for (const variable of Object.values(spec)) {
    const lines = variable.doc.split('\n').map((line) => `# ${line}`);
    if (variable.defaultValue !== undefined) {
      lines.push(`# Default: ${variable.defaultValue}`, `# ${variable.name}=${variable.defaultValue}`);
    } else if (variable.optional) {
      lines.push(`# Optional${variable.defaultDoc ? `; when unset: ${variable.defaultDoc}` : ''}.`);
      lines.push(`# ${variable.name}=${variable.secret ? '' : variable.example}`);
    } else {
      lines.push(`# Required.${variable.secret ? ` Looks like: ${variable.example}` : ''}`);
      lines.push(`${variable.name}=${variable.secret ? '' : variable.example}`);
    }
    blocks.push(lines.join('\n'));
  }
  return `${blocks.join('\n\n')}\n`;
}
