import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventsUntilEnd, FAST_SIM, Sandbox, taskSpecs, waitFor } from './harness.js';

let box: Sandbox;

afterEach(async () => {
  await box.cleanup();
});

/** Sums the samples of a metric whose labels include every one given, from Prometheus' text format. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`));
    if (has) sum += Number(match[3]);
  }
  return sum;
}

/** Whether a TCP socket listens on this port, and on which addresses (Linux's own table). */
async function listeners(port: number): Promise<string[]> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hex}`)) found.push(local.split(':')[0]!);
    }
  }
  return found;
}

describe('metrics for operators, from the real daemon', () => {
  it('serves them on a loopback port to the token only, and they move as a run goes', async () => {
    box = await Sandbox.create();
    const info = await box.startDaemon({ ORC_METRICS_PORT: '0' });
    const port = info.metricsPort!;
    expect(port).toBeGreaterThan(0);
    // 127.0.0.1 in the kernel's byte order; nothing listens there on any other address.
    expect(await listeners(port)).toEqual(['0100007F']);
    const token = (await readFile(join(box.home, 'token'), 'utf8')).trim();
    const url = `http://127.0.0.1:${port}/metrics`;
    const scrape = async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      return res.text();
    };

    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('orc_');
    expect((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);

    const before = await scrape();
    expect(value(before, 'orc_runs')).toBe(0);
    expect(value(before, 'orc_tokens_total')).toBe(0);
    expect(value(before, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    const client = await box.client();
    const slow = {
      ...FAST_SIM,
      simulated: { latency_ms: { min: 60, max: 120 } },
      execution: { max_workers: 2 },
    };
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(10), config: slow });
    const ended = eventsUntilEnd(client, run.id);

    // Mid-run: some tasks done, not all; the workers busy; calls in flight; a subscriber.
    const middle = await waitFor(async () => {
      const text = await scrape();
      const done = value(text, 'orc_tasks', { status: 'done' });
      return done >= 2 && done < 10 ? text : undefined;
    });
    expect(value(middle, 'orc_runs', { status: 'executing' })).toBe(1);
    expect(value(middle, 'orc_workers')).toBe(2);
    expect(value(middle, 'orc_event_subscribers')).toBe(1);
    expect(value(middle, 'orc_tokens_total', { role: 'worker' })).toBeGreaterThan(0);

    await ended;
    const after = await waitFor(async () => {
      const text = await scrape();
      return value(text, 'orc_event_subscribers') === 0 ? text : undefined;
    });
    expect(value(after, 'orc_runs', { status: 'completed' })).toBe(1);
    expect(value(after, 'orc_tasks')).toBe(0); // no run is live
    expect(value(after, 'orc_events_total', { type: 'task.completed' })).toBe(10);
    expect(value(after, 'orc_model_calls_total', { role: 'worker', outcome: 'succeeded' })).toBe(10);
    expect(value(after, 'orc_tokens_total')).toBeGreaterThan(value(middle, 'orc_tokens_total'));
    expect(value(after, 'orc_journal_write_seconds_count')).toBeGreaterThan(
      value(middle, 'orc_journal_write_seconds_count'),
    );
    expect(value(after, 'orc_event_delivery_seconds_count')).toBeGreaterThan(0);
    expect(value(after, 'orc_model_calls_in_flight')).toBe(0);

    // The run's own spend and the daemon's counters agree; daemon.health reports the same essentials.
    const summary = await client.trpc.runs.get.query({ runId: run.id });
    expect(value(after, 'orc_cost_usd_total')).toBeCloseTo(summary.costUsd, 9);
    expect(value(after, 'orc_tokens_total', { kind: 'output' })).toBe(summary.usage.outputTokens);
    const health = await client.trpc.daemon.health.query();
    expect(health.metrics.port).toBe(port);
    expect(health.metrics.runs).toEqual({ completed: 1 });
    expect(health.metrics.costUsd).toBeCloseTo(summary.costUsd, 9);
    expect(health.metrics.tokens.output).toBe(summary.usage.outputTokens);
    expect(health.metrics.journalWrite.count).toBeGreaterThan(0);

    // orc metrics asks over the usual socket and prints the same metrics.
    const printed = await box.orc(['metrics']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('# TYPE orc_runs gauge');
    expect(value(printed.stdout, 'orc_events_total', { type: 'task.completed' })).toBe(10);
    const status = await box.orc(['daemon', 'status']);
    expect(status.stdout).toContain(`metrics at http://127.0.0.1:${port}/metrics`);
  });

  it('serves no port unless asked; orc metrics works without one and as JSON', async () => {
    box = await Sandbox.create();
    const info = await box.startDaemon();
    expect(info.metricsPort).toBeUndefined();
    const daemonJson = JSON.parse(await readFile(join(box.home, 'daemon.json'), 'utf8')) as object;
    expect(daemonJson).not.toHaveProperty('metricsPort');
    const client = await box.client();
    const health = await client.trpc.daemon.health.query();
    expect(health.metrics.port).toBeUndefined();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(3), config: FAST_SIM });
    await eventsUntilEnd(client, run.id);

    const json = await box.orc(['metrics', '--json']);
    expect(json.code).toBe(0);
    const metrics = JSON.parse(json.stdout) as { name: string; type: string; values: { value: number }[] }[];
    const completed = metrics.find((m) => m.name === 'orc_events_total');
    expect(completed?.type).toBe('counter');
    expect(metrics.find((m) => m.name === 'orc_runs')?.values.reduce((s, v) => s + v.value, 0)).toBe(1);
    // Into a pipe that closes early, like any other command: complete lines, no complaint.
    const head = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        'sh',
        ['-c', `"${process.execPath}" "${CLI}" metrics | head -3`],
        { env: box.env },
        (error, stdout, stderr) => done({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(head.stderr).toBe('');
    expect(head.stdout.split('\n')).toHaveLength(4);
    expect(head.stdout).toMatch(/^# HELP /);
  });

  it('says what to do when the port is taken, or when no daemon runs', async () => {
    box = await Sandbox.create();
    const none = await box.orc(['metrics']);
    expect(none.code).toBe(5);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/no daemon is running/);

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(box.startDaemon({ ORC_METRICS_PORT: String(port) })).rejects.toThrow(
        `monitoring.metrics_port ${port} on 127.0.0.1 is in use`,
      );
    } finally {
      taken.close();
    }
  });
});
