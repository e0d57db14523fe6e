// A load client (test only) standing where cloudflared stands: on the cloudflared network, asking
// the gateway by the alias cloudflared dials, through Docker's DNS. A new connection per request,
// CONCURRENCY at a time; like Go's dialer (at least 2 s an address) it tries each address DNS
// gave in turn. Each request asks the echo backend to hold its answer DELAY_MS, so that requests
// are in flight whenever a gateway stops. `GET /tally` on port 9000 answers
// { ok, failed, errors } (the first 20 errors), for the test to read at this container's address.
import { createServer, get } from 'node:http';

const target = process.env.TARGET;
const publicHost = process.env.PUBLIC_HOST;
const concurrency = Number(process.env.CONCURRENCY ?? 4);
const delayMs = Number(process.env.DELAY_MS ?? 100);
const tally = { ok: 0, failed: 0, errors: [] };

const fail = (message) => {
  tally.failed++;
  if (tally.errors.length < 20) tally.errors.push(message);
};

const one = () =>
  new Promise((done) => {
    const req = get(
      {
        host: target,
        port: 8080,
        path: `/load?delay=${delayMs}`,
        agent: false,
        autoSelectFamilyAttemptTimeout: 2000,
        headers: { host: publicHost, accept: 'application/json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => {
          let echoed;
          try {
            echoed = JSON.parse(body);
          } catch {}
          if (res.statusCode === 200 && echoed?.url?.startsWith('/load')) tally.ok++;
          else fail(`${res.statusCode} ${body.slice(0, 200)}`);
          done();
        });
        res.on('error', (error) => {
          fail(`response: ${error.message}`);
          done();
        });
      },
    );
    req.on('error', (error) => {
      // When and where: which gateway (address) failed, against the test's own timeline.
      const address = req.socket?.remoteAddress ?? 'no address';
      fail(`${error.code} ${error.message} (${address}, ${new Date().toISOString()})`);
      done();
    });
  });

for (let i = 0; i < concurrency; i++)
  void (async () => {
    for (;;) await one();
  })();

createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(tally));
}).listen(9000);
process.on('SIGTERM', () => process.exit(0));
