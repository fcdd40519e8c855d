import type { Redis } from 'ioredis';
import type { ModelRequest } from '../model/provider.js';
import { refuseUnlistedTools, type ToolDecision, type ToolPermissions } from '../model/tool-permissions.js';
import { ToolAnswer, answersChannel, type AttemptProgress, type ToolAsk } from './attempt-wire.js';

/**
 * An ask goes again this often while it waits: a daemon that restarted meanwhile missed it (BullMQ's
 * progress events are not kept), and a daemon that has it already answers again from what it has.
 */
const ASK_AGAIN_MS = 10_000;

/**
 * The worker's side of a remote agent's permission asks: a tool call outside the run's rules travels to
 * the daemon as the job's progress and waits, as an agent on the daemon's machine does, for the answer
 * from the daemon's inbox (a person, or `claude_cli.permission_timeout` denying it), which comes back on
 * the queue's answers channel. The attempt ending stops the wait with a refusal.
 */
export class WorkerAsks {
  private readonly waiting = new Map<string, (decision: ToolDecision) => void>();
  private asked = 0;

  constructor(private readonly queue: string) {}

  get channel(): string {
    return answersChannel(this.queue);
  }

  /** A message on the answers channel. */
  answered(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    const answer = ToolAnswer.safeParse(parsed);
    if (answer.success) this.waiting.get(key(answer.data.jobId, answer.data.id))?.(answer.data.decision);
  }

  /** Who decides the tool calls of job `jobId`'s agent: the daemon, told through `tell`. */
  permissionsFor(jobId: string, tell: (progress: AttemptProgress) => void): ToolPermissions {
    return {
      decide: (call, signal) =>
        new Promise<ToolDecision>((resolve) => {
          const ask: ToolAsk = {
            id: call.id ?? `ask-${++this.asked}`,
            tool: call.tool,
            input: call.input,
            workdir: call.workdir,
            ...(call.reason !== undefined && { reason: call.reason }),
          };
          const waitKey = key(jobId, ask.id);
          const send = () => tell({ kind: 'ask', ask });
          const again = setInterval(send, ASK_AGAIN_MS);
          const done = (decision: ToolDecision) => {
            clearInterval(again);
            signal.removeEventListener('abort', ended);
            this.waiting.delete(waitKey);
            resolve(decision);
          };
          const ended = () =>
            done({ allow: false, reason: 'the attempt ended first', message: 'The attempt ended.' });
          if (signal.aborted) return ended();
          this.waiting.set(waitKey, done);
          signal.addEventListener('abort', ended, { once: true });
          send();
        }),
    };
  }
}

/**
 * The daemon's side: each ask of a job is put once to the attempt's own permissions (the inbox, as for
 * an agent here), and its answer published to the workers once it comes. An ask told again while it waits
 * changes nothing (it is sent every 10 s: a ten-minute wait would publish its answer 60 times); told
 * again once answered, the answer is published again, for a worker that missed it.
 */
export class DaemonAsks {
  /** Each ask's answer, undefined while a person (or the timeout) has not given it. */
  private readonly decisions = new Map<string, ToolDecision | undefined>();

  constructor(
    private readonly connection: Redis,
    private readonly queue: string,
  ) {}

  ask(jobId: string, ask: ToolAsk, request: ModelRequest): void {
    const askKey = key(jobId, ask.id);
    if (this.decisions.has(askKey)) {
      const answer = this.decisions.get(askKey);
      if (answer !== undefined) this.publish(jobId, ask.id, answer);
      return;
    }
    this.decisions.set(askKey, undefined);
    const { reason, ...call } = ask;
    void (request.permissions ?? refuseUnlistedTools)
      .decide({ ...call, ...(reason !== undefined && { reason }) }, request.signal)
      .then((answer) => {
        // Forgotten meanwhile: the attempt ended, and nobody waits for it.
        if (!this.decisions.has(askKey)) return;
        this.decisions.set(askKey, answer);
        this.publish(jobId, ask.id, answer);
      });
  }

  private publish(jobId: string, id: string, decision: ToolDecision): void {
    const message: ToolAnswer = { jobId, id, decision };
    void this.connection.publish(answersChannel(this.queue), JSON.stringify(message)).catch(() => undefined);
  }

  /** The job's attempt ended: its asks are forgotten. */
  forget(jobId: string): void {
    for (const askKey of this.decisions.keys())
      if (askKey.startsWith(`${jobId}/`)) this.decisions.delete(askKey);
  }
}

function key(jobId: string, askId: string): string {
  return `${jobId}/${askId}`;
}
