import { routingTableSchema } from '@tunnelfleet/common';
import { expect, it } from 'vitest';
import { createClientRateLimit } from './client-rate-limit.js';
import { failedPage, loadingPage } from './wake-pages.js';

const hostile = '"><script>alert(1)</script>';
const [route] = routingTableSchema.parse({
  version: 1,
  routes: [
    {
      id: `r${hostile}`,
      hostname: 'app.example.com',
      backend: { url: 'http://app:80' },
      wake: { container: 'app', redirectPath: '/welcome' },
    },
  ],
}).routes;

it('escapes what it writes into the pages: a route id, log lines and the reason a wake failed', () => {
  const pages = [
    loadingPage(route!),
    failedPage(route!, [`boot ${hostile}`, '</pre><img src=x onerror=alert(1)>']),
    failedPage(route!, [], `dependency db${hostile} exited (code 1)`),
  ];
  for (const page of pages) {
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img');
    // The one script is the static file, never inline.
    expect(page.match(/<script/g)?.length ?? 0).toBeLessThanOrEqual(1);
  }
  expect(pages[0]).toContain('data-route="r&quot;&gt;&lt;script&gt;');
  expect(pages[1]).toContain('boot &quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(pages[2]).toContain('could not be started: dependency db&quot;&gt;&lt;script&gt;');
});

it('refuses a redirect off the host or with markup', () => {
  for (const redirectPath of ['//evil.example/', '/a"b', 'https://evil.example/']) {
    const parsed = routingTableSchema.safeParse({
      version: 1,
      routes: [
        {
          id: 'r',
          hostname: 'app.example.com',
          backend: { url: 'http://app:80' },
          wake: { container: 'app', redirectPath },
        },
      ],
    });
    expect(parsed.success, redirectPath).toBe(false);
  }
});

it('limits each key to one request per interval and forgets the oldest keys beyond its bound', () => {
  let now = 0;
  const allow = createClientRateLimit(1_000, () => now);
  expect([allow('a'), allow('a'), allow('b')]).toEqual([true, false, true]);
  now = 999;
  expect(allow('a')).toBe(false);
  now = 1_000;
  expect(allow('a')).toBe(true);
  // A flood of addresses cannot grow it without bound: the first ones are forgotten.
  for (let i = 0; i < 10_001; i += 1) allow(`flood-${i}`);
  expect(allow('flood-0')).toBe(true);
});
