import type { ParsedRoute } from '../src/labels/types.js';

/** The route every label test starts from: app.example.com to http://web:8080. */
const APP_HOSTNAME = 'app.example.com';
const APP_SERVICE = 'http://web:8080';

/** `<prefix>.enable`, `.hostname` and `.service` for that route, e.g. `appLabels('dockflare')`. */
export function appLabels(prefix: string): Record<string, string> {
  return {
    [`${prefix}.enable`]: 'true',
    [`${prefix}.hostname`]: APP_HOSTNAME,
    [`${prefix}.service`]: APP_SERVICE,
  };
}

/** The route those labels give, under the reader's route key and source, with every default. */
export function expectedRoute(
  key: string,
  source: ParsedRoute['source'],
): (extra?: Partial<ParsedRoute>) => ParsedRoute {
  return (extra = {}) => ({
    key,
    source,
    hostname: APP_HOSTNAME,
    service: APP_SERVICE,
    originRequest: {},
    dns: true,
    cleanup: true,
    ...extra,
  });
}
