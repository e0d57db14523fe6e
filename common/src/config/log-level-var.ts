import { LOG_LEVELS } from '../logger/log-level.js';
import { envEnum } from './env-parsers.js';
import { envVar } from './env-var.js';

/** `LOG_LEVEL`, the same for every process (master, agent, gateway). */
export const logLevelVar = () =>
  envVar('LOG_LEVEL', envEnum(LOG_LEVELS), {
    doc: 'Log level: trace, debug, info, warn, error, fatal or silent.',
    example: 'info',
    defaultValue: 'info',
  });
