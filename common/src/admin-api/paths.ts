/**
 * Where the admin API lives. Every request carries `Authorization: Bearer <admin token>`; errors
 * are `{ error: { code, message } }` (see `errors/`). The schemas beside this file are the
 * contract: the master validates requests and describes the API (OpenAPI) with them, clients
 * (the CLI, the test harness, the dashboard) type and parse the answers with them.
 */
export const ADMIN_API_PREFIX = '/api/v1/admin';
