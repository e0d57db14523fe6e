export {
  type CommandExecutor,
  type CommandExecutorOptions,
  createCommandExecutor,
} from './command-executor.js';
export { type CommandLoop, type CommandLoopOptions, startCommandLoop } from './command-loop.js';
