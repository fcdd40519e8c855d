import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

/**
 * The model behind the real Claude Code in tests: a local server speaking the Anthropic Messages protocol
 * (what `ANTHROPIC_BASE_URL` points the agent at). It plays the agent loop as a scripted model would:
 * a worker's task text says what to do, one instruction a line, and each turn answers with the next
 * tool call (`Write` to a file under the "Primary working directory" Claude Code names), until the
 * script is done and the turn ends. The manager's calls (Claude Code's `StructuredOutput` tool) get a
 * plan made from the goal's `TASK` lines, an accepting review, and a final review.
 *
 * Worker instructions (in a task's description):
 *   WRITE <path>: <content>    create the file (`\n` in content is a newline)
 *   APPEND <path>: <content>   Read the file, then Write it with the content added
 *   COPY <from> <to>           Read <from>, then Write its content to <to>
 *   BASH <command>             run a command with the Bash tool
 *   HANG <gate>                hold the answer until `open(gate)` (a test kills the daemon meanwhile)
 *   LIMIT <seconds>            answer a usage-limit error (429) until that many seconds have passed
 *   FAIL_UNLESS <abs path>     answer an invalid-request error (400) while the file does not exist
 *
 * Goal lines, for plans: `TASK <id> [after <id>,<id>]: <instruction> | <instruction>`.
 */
export interface AgentStandIn {
  readonly url: string;
  /** Every answered or held request, in arrival order. */
  readonly requests: readonly StandInRequest[];
  /** Lets requests held at `HANG <gate>` (now and later) go on. */
  open(gate: string): void;
  /** How many requests wait at the gate now. */
  waiting(gate: string): number;
  close(): Promise<void>;
}

export interface StandInRequest {
  kind: 'plan' | 'review' | 'final-review' | 'work' | 'other';
  /** The task a worker's request is about. */
  task?: string;
  /** Tool results in the conversation: how far the script had got. */
  step: number;
  /** What was answered: a tool's name, `end_turn`, `limit`, `error`, or `held`. */
  answer: string;
  inputTokens: number;
  outputTokens: number;
  /** The session Claude Code sent it from (`x-claude-code-session-id`). */
  session?: string;
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

interface Body {
  model?: string;
  stream?: boolean;
  system?: unknown;
  messages?: { role: string; content: unknown }[];
  tools?: { name: string; input_schema?: { properties?: Record<string, unknown> } }[];
}

/** Roughly four characters a token. */
const tokens = (text: string): number => Math.ceil(text.length / 4);

export async function startAgentStandIn(): Promise<AgentStandIn> {
  const requests: StandInRequest[] = [];
  const openGates = new Set<string>();
  const held = new Map<string, Set<() => void>>();
  /** When each LIMIT of each conversation lets requests through again (epoch ms). */
  const limits = new Map<string, number>();
  const sockets = new Set<Socket>();
  let n = 0;

  const hold = (gate: string, res: ServerResponse): Promise<boolean> =>
    new Promise((resolve) => {
      if (openGates.has(gate)) return resolve(true);
      const waiters = held.get(gate) ?? new Set();
      held.set(gate, waiters);
      const release = (): void => {
        waiters.delete(release);
        resolve(!res.destroyed);
      };
      waiters.add(release);
      res.on('close', release);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v1/messages/count_tokens') {
      return json(res, 200, { input_tokens: tokens(raw) });
    }
    if (req.method !== 'POST' || path !== '/v1/messages') {
      return json(res, 404, {
        type: 'error',
        error: { type: 'not_found_error', message: `${path} is not served here` },
      });
    }
    const body = JSON.parse(raw) as Body;
    const id = ++n;
    const session = req.headers['x-claude-code-session-id'];
    const record: StandInRequest = {
      kind: 'other',
      step: toolResults(body),
      answer: 'end_turn',
      inputTokens: tokens(JSON.stringify([body.system, body.messages])),
      outputTokens: 0,
      ...(typeof session === 'string' && { session }),
    };
    requests.push(record);
    const turn = await answer(body, record, id, res);
    if (turn === undefined) return;
    record.outputTokens = tokens(JSON.stringify(turn.content));
    send(res, body, id, turn.content, turn.stop, record);
  };

  /** The next turn of the conversation, or undefined when an error went out (or the client left). */
  const answer = async (
    body: Body,
    record: StandInRequest,
    id: number,
    res: ServerResponse,
  ): Promise<{ content: Block[]; stop: 'end_turn' | 'tool_use' } | undefined> => {
    const structured = body.tools?.find((tool) => tool.name === 'StructuredOutput');
    const lastUser = body.messages?.filter((m) => m.role === 'user').at(-1);
    const answeredTool = Array.isArray(lastUser?.content) && lastUser.content.some(isToolResult);
    if (structured) {
      const properties = structured.input_schema?.properties ?? {};
      record.kind = 'tasks' in properties ? 'plan' : 'followUps' in properties ? 'final-review' : 'review';
      if (answeredTool) return { content: [{ type: 'text', text: 'Done.' }], stop: 'end_turn' };
      record.answer = 'StructuredOutput';
      const input = managerAnswer(record.kind, textOf(body.system));
      return {
        content: [{ type: 'tool_use', id: `toolu_so_${id}`, name: 'StructuredOutput', input }],
        stop: 'tool_use',
      };
    }
    const script = taskScript(body);
    const cwd = /Primary working directory: ([^\n"\\]+)/.exec(JSON.stringify(body))?.[1];
    if (!script || cwd === undefined) {
      return { content: [{ type: 'text', text: 'Nothing to do.' }], stop: 'end_turn' };
    }
    record.kind = 'work';
    record.task = script.task;
    let calls = 0;
    for (const [index, line] of script.lines.entries()) {
      const [verb = '', rest = ''] = splitFirst(line, ' ');
      if (verb === 'HANG' || verb === 'LIMIT' || verb === 'FAIL_UNLESS') {
        if (calls < record.step) continue;
        if (verb === 'HANG' && !openGates.has(rest)) {
          record.answer = 'held';
          if (!(await hold(rest, res))) return undefined;
          record.answer = 'end_turn';
        }
        if (verb === 'LIMIT') {
          const key = `${script.task}:${index}`;
          const until = limits.get(key) ?? Date.now() + Number(rest) * 1000;
          limits.set(key, until);
          if (Date.now() < until) {
            record.answer = 'limit';
            usageLimit(res, until);
            return undefined;
          }
        }
        if (verb === 'FAIL_UNLESS' && !existsSync(rest)) {
          record.answer = 'error';
          json(res, 400, {
            type: 'error',
            error: { type: 'invalid_request_error', message: `${rest} is missing` },
          });
          return undefined;
        }
        continue;
      }
      for (const tool of toolCalls(verb, rest, cwd)) {
        if (calls++ < record.step) continue;
        record.answer = tool.name;
        return { content: [{ type: 'tool_use', id: `toolu_${id}`, ...tool }], stop: 'tool_use' };
      }
    }
    return {
      content: [{ type: 'text', text: `Done: ${calls} tool call${calls === 1 ? '' : 's'}.` }],
      stop: 'end_turn',
    };
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else json(res, 500, { type: 'error', error: { type: 'api_error', message: String(error) } });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    open(gate) {
      openGates.add(gate);
      for (const release of [...(held.get(gate) ?? [])]) release();
    },
    waiting: (gate) => held.get(gate)?.size ?? 0,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The tool calls one instruction takes; files are read from disk when the turn is answered. */
function toolCalls(
  verb: string,
  rest: string,
  cwd: string,
): { name: string; input: Record<string, unknown> }[] {
  const file = (path: string): string => join(cwd, path.trim());
  const current = (path: string): string => (existsSync(file(path)) ? readFileSync(file(path), 'utf8') : '');
  const unescape = (text: string): string => text.replaceAll('\\n', '\n');
  switch (verb) {
    case 'WRITE': {
      const [path = '', content = ''] = splitFirst(rest, ': ');
      return [{ name: 'Write', input: { file_path: file(path), content: unescape(content) } }];
    }
    case 'APPEND': {
      const [path = '', content = ''] = splitFirst(rest, ': ');
      return [
        { name: 'Read', input: { file_path: file(path) } },
        { name: 'Write', input: { file_path: file(path), content: current(path) + unescape(content) } },
      ];
    }
    case 'COPY': {
      const [from = '', to = ''] = splitFirst(rest, ' ');
      return [
        { name: 'Read', input: { file_path: file(from) } },
        { name: 'Write', input: { file_path: file(to), content: current(from) } },
      ];
    }
    case 'BASH':
      return [{ name: 'Bash', input: { command: rest, description: 'Run a command' } }];
    default:
      return [];
  }
}

/** The worker's task: the `# Task <id>: …` message and the instruction lines after its header. */
function taskScript(body: Body): { task: string; lines: string[] } | undefined {
  for (const message of body.messages ?? []) {
    if (message.role !== 'user') continue;
    const text = textOf(message.content);
    const header = /^# Task (\S+): .*$/m.exec(text);
    if (!header) continue;
    const lines = text
      .slice(header.index + header[0].length)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^(WRITE|APPEND|COPY|BASH|HANG|LIMIT|FAIL_UNLESS) /.test(line));
    return { task: header[1]!, lines };
  }
  return undefined;
}

function managerAnswer(kind: StandInRequest['kind'], system: string): Record<string, unknown> {
  if (kind === 'review') return { verdict: 'accept', feedback: 'The change does what the task asks.' };
  if (kind === 'final-review') return { verdict: 'success', summary: 'Every task was done.', followUps: [] };
  const tasks = [...system.matchAll(/^TASK (\S+)(?: after (\S+))?: (.+)$/gm)].map(([, id, after, text]) => ({
    id,
    title: `Task ${id}`,
    description: (text ?? '').split(' | ').join('\n'),
    dependencies: after ? after.split(',') : [],
    priority: 'medium',
    // Required by the plan's schema, which Claude Code holds its structured output to: the files the
    // task's instructions write, as a model would name them.
    touches: (text ?? '')
      .split(' | ')
      .map((line) => /^(?:WRITE|APPEND) (\S+):/.exec(line)?.[1] ?? /^COPY \S+ (\S+)$/.exec(line)?.[1])
      .filter((path) => path !== undefined),
  }));
  return { summary: `${tasks.length} tasks from the goal.`, tasks };
}

/** A subscription's usage limit, as the API sends it: Claude Code reads the reset from the headers. */
function usageLimit(res: ServerResponse, until: number): void {
  const reset = Math.ceil(until / 1000);
  json(
    res,
    429,
    { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited' } },
    {
      'retry-after': String(Math.max(1, reset - Math.floor(Date.now() / 1000))),
      'anthropic-ratelimit-unified-status': 'rejected',
      'anthropic-ratelimit-unified-reset': String(reset),
      'anthropic-ratelimit-unified-representative-claim': 'five_hour',
    },
  );
}

function send(
  res: ServerResponse,
  body: Body,
  id: number,
  content: Block[],
  stop: 'end_turn' | 'tool_use',
  record: StandInRequest,
): void {
  const usage = {
    input_tokens: record.inputTokens,
    output_tokens: record.outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  const message = {
    id: `msg_stand_in_${id}`,
    type: 'message',
    role: 'assistant',
    model: body.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage,
  };
  if (body.stream !== true) return json(res, 200, message);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': `req_stand_in_${id}` });
  const event = (type: string, data: Record<string, unknown>): boolean =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event('message_start', {
    message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else {
      event('content_block_start', { index, content_block: { ...block, input: {} } });
      event('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    event('content_block_stop', { index });
  });
  event('message_delta', {
    delta: { stop_reason: stop, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  event('message_stop', {});
  res.end();
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function isToolResult(block: unknown): boolean {
  return typeof block === 'object' && block !== null && (block as { type?: unknown }).type === 'tool_result';
}

function toolResults(body: Body): number {
  let count = 0;
  for (const message of body.messages ?? []) {
    if (message.role === 'user' && Array.isArray(message.content))
      count += message.content.filter(isToolResult).length;
  }
  return count;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: { type?: unknown; text?: unknown }) => (typeof block.text === 'string' ? block.text : ''))
    .join('\n');
}

function splitFirst(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)];
}
