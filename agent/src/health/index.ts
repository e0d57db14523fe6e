export { DEFAULT_OUTAGE_BUDGET_MS, evaluateHealth, type HealthReport } from './health-report.js';
export { HEALTH_PATH, type HealthServer, startHealthServer } from './health-server.js';
