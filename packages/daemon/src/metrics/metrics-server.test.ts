import { createServer } from 'node:net';
import { ManualClock } from '@orc/test-support';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonMetrics } from './daemon-metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

const TOKEN = 'a'.repeat(64);
const logger = pino({ level: 'silent' });
let server: MetricsServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(): Promise<string> {
  const metrics = new DaemonMetrics(new ManualClock());
  metrics.subscribed(1);
  server = await startMetricsServer({ metrics, token: TOKEN, port: 0, logger });
  return `http://127.0.0.1:${server.port}`;
}

describe('the metrics port', () => {
  it('answers a scrape with the token in Prometheus text format', async () => {
    const base = await serve();
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(/^orc_event_subscribers 1$/m);
  });

  it('refuses a request without the token, with a wrong one, or from a browser; knows one path', async () => {
    const base = await serve();
    const none = await fetch(`${base}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toContain('orc_');
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${'b'.repeat(64)}` } });
    expect(wrong.status).toBe(401);
    const bare = await fetch(`${base}/metrics`, { headers: { authorization: TOKEN } });
    expect(bare.status).toBe(401);
    const browser = await fetch(`${base}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' },
    });
    expect(browser.status).toBe(403);
    const elsewhere = await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(elsewhere.status).toBe(404);
    const post = await fetch(`${base}/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(post.status).toBe(405);
  });

  it('says which key to change when its port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(
        startMetricsServer({ metrics: new DaemonMetrics(new ManualClock()), token: TOKEN, port, logger }),
      ).rejects.toThrow(`monitoring.metrics_port ${port} on 127.0.0.1 is in use; choose another port`);
    } finally {
      taken.close();
    }
  });
});
