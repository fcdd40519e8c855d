import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { tempHome } from '@orc/test-support';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { CommandChannel } from './command-channel.js';
import { Notifier, type Notification } from './notifier.js';
import { WebhookChannel } from './webhook-channel.js';

/** A real local HTTP server as the webhook: it answers each POST with the next status of `answers`. */
interface Hook {
  url: string;
  bodies: unknown[];
  answers: number[];
  /** Never answers while set. */
  hang: boolean;
  server: Server;
}

let hook: Hook;
let home: { home: string; remove: () => Promise<void> };
let logged: string;
let logger: pino.Logger;

beforeEach(async () => {
  home = await tempHome('orc-notify-');
  logged = '';
  logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    }),
  );
  const state = { bodies: [] as unknown[], answers: [] as number[], hang: false };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (state.hang) return;
      state.bodies.push(JSON.parse(body));
      res.writeHead(state.answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  hook = Object.assign(state, {
    url: `http://127.0.0.1:${port}/services/T000/B000/SECRETSECRET`,
    server,
  });
});

afterEach(async () => {
  hook.server.closeAllConnections();
  await new Promise((resolve) => hook.server.close(resolve));
  await home.remove();
});

const NOTE: Notification = {
  kind: 'budget',
  title: 'claude-orchestrator needs you',
  text: 'run r1 is paused at its budget\nAnswer: orc answer i1 resume|cancel',
  payload: { kind: 'budget', item: { id: 'i1', runId: 'r1' } },
};

function notifier(channels: Notifier['channels'], options: { tries?: number; timeoutMs?: number } = {}) {
  return new Notifier({
    channels: [...channels],
    clock: systemClock,
    logger,
    backoffMs: 10,
    ...options,
  });
}

/** Whether a process runs (a zombie waiting for its reaper does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('notifications', () => {
  it('a webhook gets JSON with a text field (Slack) and the same as content (Discord)', async () => {
    const push = notifier([new WebhookChannel(hook.url)]);
    push.push(NOTE);
    await push.idle();
    expect(hook.bodies).toEqual([{ text: NOTE.text, content: NOTE.text }]);
    expect(push.status()).toEqual([
      expect.objectContaining({ channel: 'webhook', delivered: 1, failed: 0, pending: 0 }),
    ]);
  });

  it('a webhook that fails is retried with backoff until it takes the notification', async () => {
    hook.answers.push(500, 503);
    const push = notifier([new WebhookChannel(hook.url)]);
    push.push(NOTE);
    await push.idle();
    expect(hook.bodies).toHaveLength(3);
    expect(push.status()[0]).toMatchObject({ delivered: 1, failed: 0 });
    expect(logged).toContain('a notification was not delivered; retrying');
  });

  it('one that never works is given up on, logged and counted for orc doctor, with its secret nowhere', async () => {
    hook.answers.push(404, 404, 404);
    const push = notifier([new WebhookChannel(hook.url)], { tries: 3 });
    push.push(NOTE);
    await push.idle();
    const [status] = push.status();
    expect(status).toMatchObject({ channel: 'webhook', delivered: 0, failed: 1 });
    expect(status!.lastError).toBe(`${new URL(hook.url).origin}/[redacted] answered 404: ok`);
    expect(status!.target).toBe(`${new URL(hook.url).origin}/[redacted]`);
    expect(logged).toContain('a notification could not be delivered');
    expect(logged).not.toContain('SECRETSECRET');
    expect(JSON.stringify(push.status())).not.toContain('SECRETSECRET');
  });

  it('a command gets the notification as JSON on stdin, through sh -c', async () => {
    const file = join(home.home, 'got.json');
    const push = notifier([new CommandChannel(`cat > '${file}' && echo ran >> '${file}.log'`)]);
    push.push(NOTE);
    await push.idle();
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(NOTE.payload);
    expect(await readFile(`${file}.log`, 'utf8')).toBe('ran\n');
    expect(push.status()[0]).toMatchObject({ channel: 'command', delivered: 1 });
  });

  it('a command that fails says why (its exit code and last line of stderr)', async () => {
    const push = notifier([new CommandChannel('echo "no route to the pager" >&2; exit 3')], { tries: 2 });
    push.push(NOTE);
    await push.idle();
    expect(push.status()[0]).toMatchObject({
      failed: 1,
      lastError: 'the notification command exited with 3: no route to the pager',
    });
  });

  it('never holds anyone up: push returns at once, and a hanging webhook does not delay a command', async () => {
    hook.hang = true;
    const file = join(home.home, 'fast.json');
    const push = notifier([new WebhookChannel(hook.url), new CommandChannel(`cat > '${file}'`)], {
      tries: 1,
      timeoutMs: 1_500,
    });
    const started = performance.now();
    push.push(NOTE);
    expect(performance.now() - started).toBeLessThan(50);
    const deadline = Date.now() + 1_000;
    while (push.status()[1]!.delivered === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(push.status()[1]).toMatchObject({ channel: 'command', delivered: 1 });
    expect(push.status()[0]).toMatchObject({ channel: 'webhook', delivered: 0, pending: 1 });
    await push.idle();
    expect(push.status()[0]).toMatchObject({ failed: 1, lastError: 'no answer within 1.5s' });
  });

  it('a channel delivers in the order pushed: a later push waits for a slow one, and for its retries', async () => {
    const file = join(home.home, 'order.log');
    // The first notification's command is the slower one: started at once, the second would append first.
    const command = new CommandChannel(
      `read -r line; case "$line" in *first*) sleep 0.3;; esac; echo "$line" >> '${file}'`,
    );
    hook.answers.push(500);
    const push = notifier([command, new WebhookChannel(hook.url)]);
    const note = (text: string): Notification => ({ ...NOTE, text, payload: { text } });
    push.push(note('first'));
    push.push(note('second'));
    expect(push.status().map((s) => s.pending)).toEqual([2, 2]);
    await push.idle();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { text: string }).text)).toEqual(['first', 'second']);
    // The webhook refused the first once: its retry still came before the second.
    expect(hook.bodies.map((body) => (body as { text: string }).text)).toEqual(['first', 'first', 'second']);
    expect(push.status().map((s) => [s.delivered, s.failed, s.pending])).toEqual([
      [2, 0, 0],
      [2, 0, 0],
    ]);
  });

  it('what is still queued when the daemon stops past its grace is dropped, counted and logged', async () => {
    hook.hang = true;
    const push = notifier([new WebhookChannel(hook.url)], { tries: 1, timeoutMs: 60_000 });
    push.push(NOTE);
    push.push(NOTE);
    await push.stop(100);
    expect(push.status()[0]).toMatchObject({ delivered: 0, failed: 2, pending: 0 });
    expect(push.status()[0]!.lastError).toBe('the daemon stopped before it could be delivered');
  });

  it('a command that hangs is killed at its timeout, with what it started', async () => {
    const pidFile = join(home.home, 'sleep.pid');
    const push = notifier([new CommandChannel(`sleep 30 & echo $! > '${pidFile}'; wait`)], {
      tries: 1,
      timeoutMs: 500,
    });
    push.push(NOTE);
    await push.idle();
    expect(push.status()[0]).toMatchObject({ failed: 1, lastError: 'no answer within 0.5s' });
    const pid = Number(await readFile(pidFile, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(running(pid)).toBe(false);
  });
});
