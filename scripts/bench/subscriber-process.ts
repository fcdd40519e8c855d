import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type OrcClient } from '@orc/daemon/client';
import { percentile } from './run-watch.js';

/**
 * Clients following a run's events (`runs.eventBatches`), in a process of their own. Ten subscribers of a
 * run at full speed parse some 400,000 events a second; in the process that also times the screen's keys
 * they held up its polling, so a key's time counted their backlog (and theirs counted the polling).
 * The parent tells the window to measure; the child answers with the delivery latencies' percentiles.
 */
export interface Deliveries {
  /** Events counted (each subscriber's own). */
  count: number;
  /** From the batch's group commit (`committedAt`) to its arrival, per event. */
  fromCommit: { p50: number; p99: number; max: number };
  /** From the event's emit (`at`), commit included. */
  fromEmitP99: number;
  /** Events each subscriber received in the window, least and most. */
  perSubscriber: { min: number; max: number };
  /**
   * Times a subscriber's connection closed while it followed (a daemon that drops a slow subscriber makes
   * it reconnect and resume), with the close codes seen.
   */
  disconnects: { count: number; codes: number[] };
  /** CPU this process used while measured, in ms. */
  cpuMs: number;
  /** Events its subscribers received (and parsed) meanwhile, wherever they were emitted: what cpuMs paid for. */
  received: number;
}

/** This file built: run from source (the bench's own test), the child runs the build `npm run build` made. */
const ENTRY = ((here: string) =>
  here.endsWith('.ts') ? join(dirname(here), '..', 'dist', 'bench', 'subscriber-process.js') : here)(
  fileURLToPath(import.meta.url),
);

type ToChild =
  | { kind: 'follow'; home: string; runId: string; subscribers: number }
  | { kind: 'measure'; from: number }
  | { kind: 'stop'; to: number };
type ToParent =
  { kind: 'following' } | { kind: 'measured'; deliveries: Deliveries } | { kind: 'failed'; message: string };

/** The subscribers' side, in the parent: starts the process and talks to it. */
export class SubscriberProcess {
  private readonly child: ChildProcess;
  private readonly replies: ToParent[] = [];
  private waiting: ((reply: ToParent) => void) | undefined;

  constructor() {
    // Not the test runner's module conditions (its `source` resolves to TypeScript): the built code.
    const { NODE_OPTIONS: _options, ...env } = process.env;
    this.child = fork(ENTRY, ['--subscribers'], {
      execArgv: [],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: ToParent) => {
      if (this.waiting) this.waiting(reply);
      else this.replies.push(reply);
    });
  }

  /** Connects `subscribers` clients and subscribes them where the run is now; resolves once they follow. */
  async follow(home: string, runId: string, subscribers: number): Promise<void> {
    await this.ask({ kind: 'follow', home, runId, subscribers }, 'following');
  }

  /** Events emitted from `from` on count (ms since the epoch). */
  measureFrom(from: number): void {
    this.child.send({ kind: 'measure', from } satisfies ToChild);
  }

  /** Stops counting events emitted from `to` on, and closes the clients. */
  async stop(to: number): Promise<Deliveries> {
    const reply = await this.ask({ kind: 'stop', to }, 'measured');
    return (reply as { deliveries: Deliveries }).deliveries;
  }

  /** Waits a moment for the process to end by itself (it does once measured), then kills it. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill(), 2_000);
    await exited;
    clearTimeout(timer);
  }

  private async ask(message: ToChild, expected: ToParent['kind']): Promise<ToParent> {
    this.child.send(message);
    const reply =
      this.replies.shift() ??
      (await new Promise<ToParent>((resolve, reject) => {
        this.waiting = resolve;
        this.child.once('exit', (code) => reject(new Error(`the subscribers' process exited (${code})`)));
      }));
    this.waiting = undefined;
    if (reply.kind === 'failed') throw new Error(`the subscribers' process failed: ${reply.message}`);
    if (reply.kind !== expected)
      throw new Error(`the subscribers' process answered ${reply.kind}, not ${expected}`);
    return reply;
  }
}

/** The child: follows the run and measures, as the parent says. */
function serve(): void {
  const clients: OrcClient[] = [];
  const subscriptions: { unsubscribe(): void }[] = [];
  const fromCommit: number[] = [];
  const fromEmit: number[] = [];
  let received: number[] = [];
  let from = Infinity;
  let to = Infinity;
  let cpuFrom = 0;
  let counting = false;
  let parsed = 0;
  let disconnects = 0;
  const codes: number[] = [];
  let closing = false;
  const send = (reply: ToParent) => process.send!(reply);
  process.on('message', (message: ToChild) => {
    void (async () => {
      if (message.kind === 'follow') {
        for (let i = 0; i < message.subscribers; i++)
          clients.push(
            await createClient({
              home: message.home,
              connectTimeoutMs: 10_000,
              onDisconnect: ({ code }) => {
                if (closing) return;
                disconnects++;
                if (code !== undefined && !codes.includes(code)) codes.push(code);
              },
            }),
          );
        received = new Array<number>(message.subscribers).fill(0);
        // Connected first, then joined where the run is: the subscribers follow it live from the start.
        const { lastEventId } = await clients[0]!.trpc.runs.get.query({ runId: message.runId });
        clients.forEach((client, i) => {
          subscriptions.push(
            client.trpc.runs.eventBatches.subscribe(
              { runId: message.runId, lastEventId: String(lastEventId) },
              {
                onData: ({ data }) => {
                  const now = Date.now();
                  if (counting) parsed += data.events.length;
                  for (const event of data.events) {
                    const at = timeOf(event.at);
                    if (at < from || at >= to) continue;
                    fromEmit.push(now - at);
                    if (data.committedAt !== undefined) fromCommit.push(now - data.committedAt);
                    received[i]!++;
                  }
                },
              },
            ),
          );
        });
        send({ kind: 'following' });
      } else if (message.kind === 'measure') {
        from = message.from;
        cpuFrom = cpuMs();
        counting = true;
      } else {
        to = message.to;
        // Events emitted before `to` may still be on their way.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const cpu = cpuMs() - cpuFrom;
        counting = false;
        closing = true;
        for (const s of subscriptions) s.unsubscribe();
        await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
        send({
          kind: 'measured',
          deliveries: {
            count: fromCommit.length,
            fromCommit: {
              p50: percentile(fromCommit, 50),
              p99: percentile(fromCommit, 99),
              max: percentile(fromCommit, 100),
            },
            fromEmitP99: percentile(fromEmit, 99),
            perSubscriber: { min: Math.min(...received), max: Math.max(...received) },
            disconnects: { count: disconnects, codes },
            cpuMs: cpu,
            received: parsed,
          },
        });
        process.disconnect();
      }
    })().catch((error: unknown) => send({ kind: 'failed', message: String(error) }));
  });
}

/**
 * `Date.parse(at)`, remembering the last: the events of a commit mostly share their time, and parsing
 * each of the 200,000 a second ten subscribers get was this process's own cost, not the stream's.
 */
let lastAt = '';
let lastTime = NaN;
function timeOf(at: string): number {
  if (at !== lastAt) {
    lastAt = at;
    lastTime = Date.parse(at);
  }
  return lastTime;
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

if (process.argv.includes('--subscribers')) serve();
