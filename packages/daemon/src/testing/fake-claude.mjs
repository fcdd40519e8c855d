#!/usr/bin/env node
// A stand-in for the `claude` CLI in `-p --output-format stream-json --verbose` mode, for tests. It reads
// the prompt from stdin, carries out the file instructions in it, in its working directory:
//
//   WRITE <path>: <content>     create or overwrite (\n in content is a newline)
//   APPEND <path>: <content>    add to the end
//   DELETE <path>
//   COPY <from> <to>            copy a file; fails the call (exit 1) when <from> is missing, so a task can
//                               prove it sees another task's work
//   WAIT_FOR <path>             wait until <path> exists (absolute, or relative to the working directory):
//                               a gate a test opens; with FAKE_CLAUDE_PID_FILE it writes "<own pid>" there
//   SAY <text>                  an assistant text message
//
// and prints stream-json lines shaped like the real CLI's: a system init, assistant messages with text and
// tool_use blocks, user messages with tool results, and one final result with usage and total_cost_usd.
//
// Environment switches:
//   FAKE_CLAUDE_MODE=exit1 | garbage | is_error_auth | usage_limit | max_turns | slow
//   FAKE_CLAUDE_ARGS_FILE=<file>   write {argv, cwd, stdin} there as JSON
//   FAKE_CLAUDE_PID_FILE=<file>    (slow) write "<own pid> <child pid>" there once both run;
//                                  (WAIT_FOR) write "<own pid>" there before waiting
//   FAKE_CLAUDE_IGNORE_TERM=1      (slow) ignore SIGTERM, so only SIGKILL stops it
//   FAKE_CLAUDE_DELAY_MS=<n>       pause between events
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import process from 'node:process';
import { setInterval, setTimeout } from 'node:timers';

const argv = process.argv.slice(2);
const mode = process.env.FAKE_CLAUDE_MODE ?? 'ok';
const delayMs = Number(process.env.FAKE_CLAUDE_DELAY_MS ?? 0);
const sessionId = randomUUID();
const cwd = process.cwd();

const option = (name) => {
  const index = argv.indexOf(name);
  return index === -1 ? undefined : argv[index + 1];
};
const model = option('--model') ?? 'claude-sonnet-fake';

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const emit = (event) =>
  process.stdout.write(`${JSON.stringify({ ...event, session_id: sessionId, uuid: randomUUID() })}\n`);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function assistant(content) {
  emit({
    type: 'assistant',
    message: {
      id: `msg_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 3,
        output_tokens: 7,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    },
    parent_tool_use_id: null,
  });
}

function toolResult(toolUseId, text) {
  emit({
    type: 'user',
    message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: text }] },
    parent_tool_use_id: null,
  });
}

function result(fields) {
  emit({
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 1234,
    duration_api_ms: 1100,
    num_turns: 1,
    result: '',
    total_cost_usd: 0,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    permission_denials: [],
    ...fields,
  });
}

function insideCwd(path) {
  const target = resolve(cwd, path);
  const rel = relative(cwd, target);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path} is outside the working directory`);
  return target;
}

async function main() {
  if (
    argv.includes('--output-format') &&
    option('--output-format') === 'stream-json' &&
    !argv.includes('--verbose')
  ) {
    process.stderr.write('Error: When using --print, --output-format=stream-json requires --verbose\n');
    process.exit(1);
  }
  const prompt = await readStdin();
  if (process.env.FAKE_CLAUDE_ARGS_FILE) {
    writeFileSync(process.env.FAKE_CLAUDE_ARGS_FILE, JSON.stringify({ argv, cwd, stdin: prompt }));
  }

  if (mode === 'garbage') {
    process.stdout.write('Welcome to Claude Code! Type /help to get started.\n');
    return;
  }
  if (mode === 'exit1') {
    process.stderr.write('Error: something went wrong\nconnect ECONNREFUSED 127.0.0.1:443\n');
    process.exit(1);
  }

  emit({
    type: 'system',
    subtype: 'init',
    cwd,
    tools: ['Bash', 'Edit', 'Read', 'Write'],
    mcp_servers: [],
    model,
    permissionMode:
      option('--permission-mode') ??
      (argv.includes('--dangerously-skip-permissions') ? 'bypassPermissions' : 'default'),
    apiKeySource: 'none',
  });

  if (mode === 'is_error_auth' || mode === 'usage_limit') {
    const text =
      mode === 'is_error_auth'
        ? 'Invalid API key · Please run /login'
        : 'Claude AI usage limit reached|1767225600';
    assistant([{ type: 'text', text }]);
    result({ is_error: true, result: text, num_turns: 1 });
    process.exit(1);
  }
  if (mode === 'max_turns') {
    result({ subtype: 'error_max_turns', is_error: true, num_turns: Number(option('--max-turns') ?? 1) });
    process.exit(0);
  }
  if (mode === 'slow') {
    if (process.env.FAKE_CLAUDE_IGNORE_TERM) process.on('SIGTERM', () => {});
    // A tool process of its own, in the same process group, like a Bash tool call would start.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    if (process.env.FAKE_CLAUDE_PID_FILE)
      writeFileSync(process.env.FAKE_CLAUDE_PID_FILE, `${process.pid} ${child.pid}`);
    assistant([{ type: 'text', text: 'Working on it, slowly.' }]);
    setInterval(() => {}, 1000);
    return;
  }

  let changes = 0;
  let said = '';
  for (const line of prompt.split('\n')) {
    const write = /^(WRITE|APPEND) ([^:]+): (.*)$/.exec(line);
    const remove = /^DELETE (.+)$/.exec(line);
    const copy = /^COPY (\S+) (\S+)$/.exec(line);
    const gate = /^WAIT_FOR (.+)$/.exec(line);
    const say = /^SAY (.+)$/.exec(line);
    if (delayMs > 0 && (write || remove || copy || say)) await sleep(delayMs);
    const id = `toolu_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    if (write) {
      const [, verb, path, raw] = write;
      const content = raw.replaceAll('\\n', '\n');
      const target = insideCwd(path.trim());
      mkdirSync(dirname(target), { recursive: true });
      if (verb === 'WRITE') {
        assistant([{ type: 'tool_use', id, name: 'Write', input: { file_path: target, content } }]);
        writeFileSync(target, content);
      } else {
        assistant([
          {
            type: 'tool_use',
            id,
            name: 'Edit',
            input: { file_path: target, old_string: '', new_string: content },
          },
        ]);
        appendFileSync(target, content);
      }
      toolResult(id, `The file ${target} has been updated.`);
      changes++;
    } else if (remove) {
      const target = insideCwd(remove[1].trim());
      assistant([
        {
          type: 'tool_use',
          id,
          name: 'Bash',
          input: { command: `rm ${remove[1].trim()}`, description: 'Delete a file' },
        },
      ]);
      rmSync(target, { force: true });
      toolResult(id, '');
      changes++;
    } else if (copy) {
      const [, from, to] = copy;
      const source = insideCwd(from);
      if (!existsSync(source)) throw new Error(`${from} is missing in ${cwd}`);
      const target = insideCwd(to);
      assistant([
        {
          type: 'tool_use',
          id,
          name: 'Bash',
          input: { command: `cp ${from} ${to}`, description: 'Copy a file' },
        },
      ]);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(source, target);
      toolResult(id, '');
      changes++;
    } else if (gate) {
      const path = resolve(cwd, gate[1].trim());
      if (process.env.FAKE_CLAUDE_PID_FILE) writeFileSync(process.env.FAKE_CLAUDE_PID_FILE, `${process.pid}`);
      assistant([{ type: 'text', text: `Waiting for ${path}.` }]);
      while (!existsSync(path)) await sleep(50);
    } else if (say) {
      assistant([{ type: 'text', text: say[1] }]);
      said += `${say[1]}\n`;
    }
  }
  const summary = `${said}Done: ${changes} change${changes === 1 ? '' : 's'}.`;
  assistant([{ type: 'text', text: summary }]);
  const inputTokens = Math.ceil(prompt.length / 4);
  const outputTokens = 20 + changes * 10;
  result({
    num_turns: changes + 1,
    result: summary,
    total_cost_usd: Number(((inputTokens * 3 + outputTokens * 15) / 1_000_000 + 0.0125).toFixed(6)),
    usage: {
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: 1500,
      cache_read_input_tokens: 12000,
      server_tool_use: { web_search_requests: 0 },
      service_tier: 'standard',
    },
  });
}

main().catch((error) => {
  process.stderr.write(`fake claude: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
