export { createCommandExecutor } from './command-executor.js';
export { type CommandLoop, startCommandLoop } from './command-loop.js';
