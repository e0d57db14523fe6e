export { registerAgent } from './register-agent.js';
export { createReporter } from './reporter.js';
