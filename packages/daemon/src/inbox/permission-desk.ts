import type { InboxItem } from '@orc/shared';
import type { Clock } from '../clock.js';
import { refusalMessage, toolSubject, type ToolCall, type ToolDecision } from '../model/tool-permissions.js';
import type { Inbox } from './inbox.js';

/** Who asks: the attempt whose agent wants the tool. */
export interface PermissionAsker {
  runId: string;
  taskId: string;
  attempt: number;
  worker: number;
  /** How long the item waits for a person before the call is denied (`claude_cli.permission_timeout`). */
  timeoutMs: number;
}

/** Detail an item shows of a call's input (a Write's content, a long command). */
const DETAIL_CHARS = 4_000;

/**
 * A Claude Code agent's tool call, put to a person as a `permission` item: its answer is the agent's
 * (allowed, allowed for the rest of the session, or denied with the person's note), and nobody
 * answering within the timeout denies it. The agent waits meanwhile; nothing else does.
 */
export class PermissionDesk {
  private calls = 0;

  constructor(
    private readonly inbox: Inbox,
    private readonly clock: Clock,
  ) {}

  ask(asker: PermissionAsker, call: ToolCall, signal: AbortSignal): Promise<ToolDecision> {
    if (signal.aborted)
      return Promise.resolve(denied(call.tool, 'the attempt ended before anyone was asked'));
    return new Promise<ToolDecision>((resolve) => {
      const subject = toolSubject(call.input, call.workdir);
      const opened = this.inbox.open(
        {
          type: 'permission',
          runId: asker.runId,
          taskId: asker.taskId,
          attempt: asker.attempt,
          key: `permission/${asker.runId}/${asker.taskId}/${asker.attempt}/${call.id ?? `call${++this.calls}`}`,
          question: `worker ${asker.worker} on task ${asker.taskId} asks to use ${call.tool}${subject ? `: ${subject}` : ''}`,
          detail: detailOf(call),
          choices: [
            { id: 'allow', key: 'a', label: 'allow this call' },
            { id: 'always', key: 'l', label: `allow ${call.tool} like this for the rest of the attempt` },
            { id: 'deny', key: 'd', label: 'deny it (a note is passed to the agent)' },
          ],
          expiresAt: this.clock.now() + asker.timeoutMs,
        },
        (item) => {
          signal.removeEventListener('abort', onAbort);
          resolve(decisionOf(item, call.tool, asker.timeoutMs));
        },
      );
      const onAbort = () => {
        if (opened)
          this.inbox.close(opened.id, {
            reason: 'obsolete',
            why: 'the attempt ended before anyone answered',
          });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (!opened) resolve(denied(call.tool, 'it could not be put to a person'));
    });
  }
}

function decisionOf(item: InboxItem, tool: string, timeoutMs: number): ToolDecision {
  const closed = item.closed;
  if (closed?.reason === 'answered') {
    if (closed.choice === 'allow') return { allow: true };
    if (closed.choice === 'always') return { allow: true, forSession: true };
    const note = closed.note?.trim();
    return {
      allow: false,
      reason: `denied by a person${note ? `: ${note}` : ''}`,
      message: refusalMessage(tool, `a person denied it${note ? ` (${note})` : ''}`),
    };
  }
  if (closed?.reason === 'expired')
    return denied(
      tool,
      `nobody answered within ${Math.round(timeoutMs / 1000)}s (claude_cli.permission_timeout)`,
    );
  return denied(tool, closed?.why ?? 'the request no longer applies');
}

function denied(tool: string, why: string): ToolDecision {
  return { allow: false, reason: why, message: refusalMessage(tool, why) };
}

/** What the call would do, for the person deciding: Claude Code's reason, then the command or input. */
function detailOf(call: ToolCall): string {
  const input = call.input;
  const body = typeof input['command'] === 'string' ? input['command'] : JSON.stringify(input, null, 1);
  const text = [call.reason, body].filter((part) => part !== undefined && part !== '').join('\n');
  return text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS - 1)}…` : text;
}
