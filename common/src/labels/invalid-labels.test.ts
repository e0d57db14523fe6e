import { describe, expect, it } from 'vitest';
import { appLabels } from '../../test/label-fixtures.js';
import { parseContainerLabels } from './parse-container-labels.js';

const base = appLabels('tunnelfleet');
const tf = (key: string, value: string) => ({ ...base, [`tunnelfleet.${key}`]: value });

/** [labels, severity, exact message] — each one a specific label and reason. */
const cases: [Record<string, string>, 'error' | 'warning', string][] = [
  // hostname
  [
    tf('hostname', 'exa mple.com'),
    'error',
    'tunnelfleet.hostname: "exa mple.com" is not a valid hostname (label "exa mple" has a space)',
  ],
  [
    tf('hostname', ''),
    'error',
    'tunnelfleet.hostname: "" is empty (expected a hostname such as "app.example.com")',
  ],
  [
    tf('hostname', 'app.example.com.'),
    'error',
    'tunnelfleet.hostname: "app.example.com." is not a valid hostname (it ends with a dot; write it without the trailing dot)',
  ],
  [
    tf('hostname', 'app..example.com'),
    'error',
    'tunnelfleet.hostname: "app..example.com" is not a valid hostname (empty label: two dots in a row, or a leading dot)',
  ],
  [
    tf('hostname', 'app_1.example.com'),
    'error',
    'tunnelfleet.hostname: "app_1.example.com" is not a valid hostname (label "app_1" has the character "_" (only letters, digits and "-"))',
  ],
  [
    tf('hostname', '-app.example.com'),
    'error',
    'tunnelfleet.hostname: "-app.example.com" is not a valid hostname (label "-app" starts with "-")',
  ],
  [
    tf('hostname', 'app-.example.com'),
    'error',
    'tunnelfleet.hostname: "app-.example.com" is not a valid hostname (label "app-" ends with "-")',
  ],
  [
    tf('hostname', `${'a'.repeat(64)}.example.com`),
    'error',
    `tunnelfleet.hostname: "${'a'.repeat(64)}.example.com" is not a valid hostname (label "${'a'.repeat(64)}" is 64 characters long (at most 63))`,
  ],
  [
    tf('hostname', `${'a.'.repeat(130)}com`),
    'error',
    `tunnelfleet.hostname: "${'a.'.repeat(40)}…" (263 characters) is not a valid hostname (263 characters long, at most 253)`,
  ],
  [
    tf('hostname', 'app.*.example.com'),
    'error',
    'tunnelfleet.hostname: "app.*.example.com" is not a valid hostname ("*" is only allowed as the whole leftmost label, e.g. "*.example.com")',
  ],
  [
    tf('hostname', '*app.example.com'),
    'error',
    'tunnelfleet.hostname: "*app.example.com" is not a valid hostname ("*" is only allowed as the whole leftmost label, e.g. "*.example.com")',
  ],
  [
    tf('hostname', '*.com'),
    'error',
    'tunnelfleet.hostname: "*.com" is not a valid hostname (a wildcard needs a domain under it, e.g. "*.example.com")',
  ],
  [
    tf('hostname', 'localhost'),
    'error',
    'tunnelfleet.hostname: "localhost" is not a valid hostname (a single label; a public hostname needs a domain, e.g. "app.example.com")',
  ],
  [
    tf('hostname', '10.0.0.1'),
    'error',
    'tunnelfleet.hostname: "10.0.0.1" is not a valid hostname (it is an IP address)',
  ],
  [
    tf('hostname', 'café.example.com'),
    'error',
    'tunnelfleet.hostname: "café.example.com" is not a valid hostname (label "café" has the non-ASCII character "é" (write the xn-- punycode form))',
  ],
  [
    { 'tunnelfleet.enable': 'true', 'tunnelfleet.service': 'http://web:80' },
    'error',
    'tunnelfleet.hostname: is not set; every route needs a hostname',
  ],
  // service
  [
    tf('service', 'ftp://web:21'),
    'error',
    'tunnelfleet.service: "ftp://web:21" has the unknown scheme "ftp" (use http, https, tcp, ssh, rdp, smb, unix, http_status, hello_world or bastion)',
  ],
  [
    tf('service', 'udp://dns:53'),
    'error',
    'tunnelfleet.service: "udp://dns:53" uses udp, which cloudflared ingress rules do not support',
  ],
  [
    tf('service', 'web:8080'),
    'error',
    'tunnelfleet.service: "web:8080" is not a service URL (expected e.g. http://web:8080, https://…, tcp://…:5432, ssh://…:22, rdp://…:3389, unix:/path, http_status:404)',
  ],
  [
    tf('service', 'http://web:8080/app'),
    'error',
    'tunnelfleet.service: "http://web:8080/app" has "/app" after the host; cloudflared forwards the request path unchanged, so a service has only scheme, host and port',
  ],
  [
    tf('service', 'http://web:99999'),
    'error',
    'tunnelfleet.service: "http://web:99999" has the port 99999, out of range 1-65535',
  ],
  [
    tf('service', 'http://web:0'),
    'error',
    'tunnelfleet.service: "http://web:0" has the port 0, out of range 1-65535',
  ],
  [
    tf('service', 'http://web:http'),
    'error',
    'tunnelfleet.service: "http://web:http" has the port "http", which is not a number',
  ],
  [
    tf('service', 'http://user:pw@web:80'),
    'error',
    'tunnelfleet.service: "http://user:pw@web:80" has credentials in the URL, which cloudflared does not support',
  ],
  [
    tf('service', 'http://we b:80'),
    'error',
    'tunnelfleet.service: "http://we b:80" has the host "we b", which is not a host name or IP address',
  ],
  [tf('service', 'http://:80'), 'error', 'tunnelfleet.service: "http://:80" names no host'],
  [
    tf('service', 'tcp://db'),
    'error',
    'tunnelfleet.service: "tcp://db" names no port and the container exposes no port, so it cannot be completed (write e.g. "tcp://db:PORT")',
  ],
  [
    tf('service', 'http_status:999'),
    'error',
    'tunnelfleet.service: "http_status:999" has the status "999", not an HTTP status 100-599',
  ],
  [
    tf('service', 'unix:run/app.sock'),
    'error',
    'tunnelfleet.service: "unix:run/app.sock" names no absolute socket path (write e.g. "unix:/run/app.sock")',
  ],
  [
    tf('service', ''),
    'error',
    'tunnelfleet.service: "" is empty (expected e.g. http://web:8080, https://…, tcp://…:5432, ssh://…:22, rdp://…:3389, unix:/path, http_status:404)',
  ],
  [
    { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostname': 'app.example.com' },
    'error',
    'tunnelfleet.service: is not set and the container name is unknown, so it cannot be completed',
  ],
  // path
  [
    tf('path', '^/api(?=v1)'),
    'error',
    'tunnelfleet.path: "^/api(?=v1)" uses a lookahead "(?=", which cloudflared\'s Go regular expressions (RE2) do not support',
  ],
  [
    tf('path', '^/(?!admin)'),
    'error',
    'tunnelfleet.path: "^/(?!admin)" uses a negative lookahead "(?!", which cloudflared\'s Go regular expressions (RE2) do not support',
  ],
  [
    tf('path', '(?<=x)y'),
    'error',
    'tunnelfleet.path: "(?<=x)y" uses a lookbehind "(?<=", which cloudflared\'s Go regular expressions (RE2) do not support',
  ],
  [
    tf('path', '(a)\\1'),
    'error',
    'tunnelfleet.path: "(a)\\\\1" uses the backreference "\\1", which cloudflared\'s Go regular expressions (RE2) do not support',
  ],
  [
    tf('path', '^/api/(v1'),
    'error',
    'tunnelfleet.path: "^/api/(v1" is not a valid regular expression (Unterminated group)',
  ],
  [
    tf('path', '*.png'),
    'error',
    'tunnelfleet.path: "*.png" is not a valid regular expression (Nothing to repeat)',
  ],
  [tf('path', '/a\nb'), 'error', 'tunnelfleet.path: "/a\\nb" has a control character'],
  // zone, tunnel, dns, cleanup, enable
  [
    tf('zone', 'other.com'),
    'error',
    'tunnelfleet.zone: "other.com" does not contain the hostname "app.example.com"',
  ],
  [
    tf('zone', 'exa mple.com'),
    'error',
    'tunnelfleet.zone: "exa mple.com" is not a valid hostname (label "exa mple" has a space)',
  ],
  [
    tf('tunnel', 'my tunnel'),
    'error',
    'tunnelfleet.tunnel: "my tunnel" is not a tunnel name (letters, digits, "._-", at most 64)',
  ],
  [
    tf('dns', 'maybe'),
    'error',
    'tunnelfleet.dns: "maybe" is not a boolean (use true/false, yes/no, on/off, 1/0)',
  ],
  [
    tf('cleanup', 'y'),
    'error',
    'tunnelfleet.cleanup: "y" is not a boolean (use true/false, yes/no, on/off, 1/0)',
  ],
  [
    tf('enable', 'yep'),
    'error',
    'tunnelfleet.enable: "yep" is not a boolean (use true/false, yes/no, on/off, 1/0)',
  ],
  [
    { 'tunnelfleet.hostname': 'app.example.com' },
    'warning',
    'tunnelfleet.enable: is not set, so the 1 tunnelfleet label(s) are ignored (add tunnelfleet.enable=true)',
  ],
  // origin
  [tf('origin.connectTimeout', '-5s'), 'error', 'tunnelfleet.origin.connectTimeout: "-5s" is negative'],
  [
    tf('origin.connectTimeout', '0'),
    'error',
    'tunnelfleet.origin.connectTimeout: "0" is out of range (1s to 86400s)',
  ],
  [
    tf('origin.tlsTimeout', '10 seconds'),
    'error',
    'tunnelfleet.origin.tlsTimeout: "10 seconds" is not a duration (use e.g. "30s", "1m30s", "2h" or a number of seconds)',
  ],
  [
    tf('origin.keepAliveTimeout', '1500ms'),
    'error',
    'tunnelfleet.origin.keepAliveTimeout: "1500ms" is not a whole number of seconds (the Cloudflare API takes integer seconds)',
  ],
  [
    tf('origin.tcpKeepAlive', '48h'),
    'error',
    'tunnelfleet.origin.tcpKeepAlive: "48h" is out of range (1s to 86400s)',
  ],
  [
    tf('origin.keepAliveConnections', '0'),
    'error',
    'tunnelfleet.origin.keepAliveConnections: "0" is out of range (1-10000)',
  ],
  [
    tf('origin.keep_alive_connections', 'many'),
    'error',
    'tunnelfleet.origin.keep_alive_connections: "many" is not a whole number (1-10000)',
  ],
  [
    tf('origin.proxyPort', '70000'),
    'error',
    'tunnelfleet.origin.proxyPort: "70000" is out of range (0-65535)',
  ],
  [
    tf('origin.noTLSVerify', 'sure'),
    'error',
    'tunnelfleet.origin.noTLSVerify: "sure" is not a boolean (use true/false, yes/no, on/off, 1/0)',
  ],
  [
    tf('origin.proxyType', 'http'),
    'error',
    'tunnelfleet.origin.proxyType: "http" is not a proxy type (use "socks" or leave empty)',
  ],
  [
    tf('origin.proxyAddress', 'localhost'),
    'error',
    'tunnelfleet.origin.proxyAddress: "localhost" is not an IP address',
  ],
  [
    tf('origin.originServerName', 'a b'),
    'error',
    'tunnelfleet.origin.originServerName: "a b" is not a valid hostname (label "a b" has a space)',
  ],
  [
    tf('origin.httpHostHeader', 'a b'),
    'error',
    'tunnelfleet.origin.httpHostHeader: "a b" is not a host header value such as "app.internal" or "app.internal:8080"',
  ],
  [
    tf('origin.caPool', 'ca.pem'),
    'error',
    'tunnelfleet.origin.caPool: "ca.pem" is not an absolute file path without spaces',
  ],
  [
    tf('origin.ipRules', '{bad'),
    'error',
    'tunnelfleet.origin.ipRules: "{bad" is not JSON (expected e.g. [{"prefix":"10.0.0.0/8","ports":[80],"allow":true}])',
  ],
  [
    tf('origin.ipRules', '[{"prefix":"10.0.0.0/33","allow":true}]'),
    'error',
    'tunnelfleet.origin.ipRules: "[{\\"prefix\\":\\"10.0.0.0/33\\",\\"allow\\":true}]" has entry 0 whose prefix has the prefix length "/33", out of range 0-32',
  ],
  [
    tf('origin.ipRules', '[{"prefix":"10.0.0.0/8"}]'),
    'error',
    'tunnelfleet.origin.ipRules: "[{\\"prefix\\":\\"10.0.0.0/8\\"}]" has entry 0 without a boolean "allow"',
  ],
  [
    tf('origin.access.required', 'true'),
    'error',
    'tunnelfleet.origin.access.required: origin access also needs origin.access.teamName and origin.access.audTag',
  ],
  [
    { ...tf('origin.access.teamName', 'team'), 'tunnelfleet.origin.access.audTag': 'xyz' },
    'error',
    'tunnelfleet.origin.access.audTag: "xyz" has "xyz", which is not an audience tag (hex)',
  ],
  [
    tf('origin.connectTimeot', '5s'),
    'warning',
    'tunnelfleet.origin.connectTimeot: is not a cloudflared originRequest key; ignored (did you mean "tunnelfleet.origin.connectTimeout"?)',
  ],
  // access
  [
    tf('access.emails', 'alice'),
    'error',
    'tunnelfleet.access.emails: "alice" has "alice", which is not an e-mail address (no "@")',
  ],
  [
    tf('access.emails', 'a b@example.com'),
    'error',
    'tunnelfleet.access.emails: "a b@example.com" has "a b@example.com", which is not an e-mail address (bad characters before "@")',
  ],
  [
    tf('access.emails', 'a@exa mple.com'),
    'error',
    'tunnelfleet.access.emails: "a@exa mple.com" has "a@exa mple.com", whose domain is not a valid hostname (label "exa mple" has a space)',
  ],
  [
    tf('access.emails', ' , '),
    'error',
    'tunnelfleet.access.emails: " , " is empty (expected a comma-separated list of e-mail addresses)',
  ],
  [
    tf('access.email_domains', 'corp'),
    'error',
    'tunnelfleet.access.email_domains: "corp" has "corp", which as an e-mail domain is not a valid hostname (a single label; a public hostname needs a domain, e.g. "app.example.com")',
  ],
  [
    tf('access.policy', 'permit'),
    'error',
    'tunnelfleet.access.policy: "permit" is not an Access decision (use allow, deny, bypass or service_auth)',
  ],
  [
    tf('access.policy', 'allow'),
    'error',
    'tunnelfleet.access.policy: needs at least one include rule for the decision "allow" (e.g. emails, email_domains, everyone)',
  ],
  [
    tf('access.everyone', 'always'),
    'error',
    'tunnelfleet.access.everyone: "always" is not a boolean (use true/false, yes/no, on/off, 1/0)',
  ],
  [
    tf('access.service_tokens', 'my-token'),
    'error',
    'tunnelfleet.access.service_tokens: "my-token" has "my-token", which is not a service token id or "any" (a UUID)',
  ],
  [
    tf('access.groups', 'admins'),
    'error',
    'tunnelfleet.access.groups: "admins" has "admins", which is not an Access group id (a UUID)',
  ],
  [
    tf('access.ip_ranges', '10.0.0.300'),
    'error',
    'tunnelfleet.access.ip_ranges: "10.0.0.300" has "10.0.0.300", which is not an IP address or CIDR range (e.g. "10.0.0.0/8")',
  ],
  [
    tf('access.countries', 'Germany'),
    'error',
    'tunnelfleet.access.countries: "Germany" has "Germany", which is not a two-letter country code',
  ],
  [
    tf('access.session_duration', 'forever'),
    'error',
    'tunnelfleet.access.session_duration: "forever" is not a duration (use e.g. "30s", "1m30s", "2h" or a number of seconds)',
  ],
  [
    tf('access.session_duration', '1000h'),
    'error',
    'tunnelfleet.access.session_duration: "1000h" is out of range for a session duration (more than 0, at most 730h)',
  ],
  [
    tf('access.named_policy', 'bad name'),
    'error',
    'tunnelfleet.access.named_policy: "bad name" has "bad name", which is not a policy name (letters, digits, "_.:-", at most 100)',
  ],
  [
    tf('access.allowed_idps', 'github'),
    'error',
    'tunnelfleet.access.allowed_idps: "github" has "github", which is not an identity provider id (a UUID)',
  ],
  [
    tf('access.app_name', 'My App'),
    'error',
    'tunnelfleet.access.app_name: sets Access options but no policy: add tunnelfleet.access.emails, .email_domains, .everyone, .service_tokens or .named_policy',
  ],
  [
    { ...tf('access.named_policy', 'x'), 'tunnelfleet.access.emals': 'a@b.com' },
    'warning',
    'tunnelfleet.access.emals: is not a known access key; ignored (did you mean "tunnelfleet.access.emails"?)',
  ],
  // keys and routes
  [
    tf('hostnme', 'x'),
    'warning',
    'tunnelfleet.hostnme: is not a known key; ignored (did you mean "tunnelfleet.hostname"?)',
  ],
  [
    tf('orgin.noTLSVerify', 'true'),
    'warning',
    'tunnelfleet.orgin.noTLSVerify: is not a known key; ignored (did you mean "tunnelfleet.origin.noTLSVerify"?)',
  ],
  [
    tf('api.hostnam', 'api.example.com'),
    'warning',
    'tunnelfleet.api.hostnam: is not a known key; ignored (did you mean "tunnelfleet.api.hostname"?)',
  ],
  [
    tf('API.hostname', 'api.example.com'),
    'error',
    'tunnelfleet.API.hostname: has the route name "API", which is not lower-case letters, digits and inner "-" (at most 63); ignored (did you mean "tunnelfleet.api.hostname"?)',
  ],
  [
    tf('default.hostname', 'x.example.com'),
    'error',
    'tunnelfleet.default.hostname: uses the reserved route name "default"; write tunnelfleet.hostname',
  ],
  [
    tf('api.service', 'http://api:80'),
    'error',
    'tunnelfleet.api.hostname: is not set; every route needs a hostname',
  ],
  [
    tf('api.enable', 'true'),
    'warning',
    'tunnelfleet.api.enable: is ignored: enable is per container, use tunnelfleet.enable',
  ],
  [
    tf('api.hostname', 'App.example.com'),
    'error',
    'tunnelfleet.api.hostname: "App.example.com" is a duplicate: "app.example.com" is already routed by route "default" on this container',
  ],
  [
    { ...base, 'Tunnelfleet.hostname': 'x' },
    'warning',
    'Tunnelfleet.hostname: is ignored: label keys are case-sensitive, write "tunnelfleet." in lower case',
  ],
];

describe('invalid tunnelfleet labels', () => {
  it('has at least 50 cases', () => expect(cases.length).toBeGreaterThanOrEqual(50));
  it.each(cases)('%o → %s', (labels, severity, message) => {
    const result = parseContainerLabels(labels);
    expect(result.problems.map((p) => [p.severity, p.message])).toContainEqual([severity, message]);
    if (severity === 'error') {
      // The route the error belongs to is not served.
      const problem = result.problems.find((p) => p.message === message)!;
      if (problem.route !== undefined) {
        expect(result.routes.map((r) => r.key)).not.toContain(problem.route);
        expect(result.invalidRoutes.map((r) => r.key)).toContain(problem.route);
      }
    }
  });

  it('an invalid route keeps its hostname for the master', () => {
    const result = parseContainerLabels(tf('path', '(x'));
    expect(result.invalidRoutes).toEqual([
      {
        key: 'default',
        source: 'tunnelfleet',
        hostname: 'app.example.com',
        problems: [expect.objectContaining({ label: 'tunnelfleet.path' })],
      },
    ]);
  });

  it('a named route with an error does not take the others down', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.api.hostname': 'api.example.com',
      'tunnelfleet.api.origin.proxyPort': 'x',
    });
    expect(result.routes.map((r) => r.key)).toEqual(['default']);
    expect(result.invalidRoutes.map((r) => r.key)).toEqual(['api']);
  });

  it('cuts a hostile huge value in messages', () => {
    const result = parseContainerLabels(tf('hostname', `${'x'.repeat(1_000_000)} y`));
    const problem = result.problems[0]!;
    expect(problem.message.length).toBeLessThan(400);
    expect(problem.message).toContain('(1000002 characters)');
    expect(problem.value?.length).toBe(200);
  });
});
