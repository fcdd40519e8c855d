import { isAbsolute, relative } from 'node:path';

/** A tool call Claude Code wants to make that the permission mode and allowed tools do not cover. */
export interface ToolCall {
  tool: string;
  input: Record<string, unknown>;
  /** The agent's working directory, for showing paths short. */
  workdir: string;
  /** Why Claude Code asks ("This command requires approval"). */
  reason?: string;
}

export type ToolDecision = { allow: true } | { allow: false; message: string };

/**
 * Who answers such a call. The inbox will ask a person (through the Agent SDK's `canUseTool`, which is
 * why the prompt is streaming input); until it exists every such call is refused, and the agent is told
 * to go on without it.
 */
export interface ToolPermissions {
  decide(call: ToolCall, signal: AbortSignal): Promise<ToolDecision>;
}

export const refuseUnlistedTools: ToolPermissions = {
  decide: (call) =>
    Promise.resolve({
      allow: false,
      message:
        `${call.tool} is not allowed in this run (claude_cli.permission_mode and claude_cli.allowed_tools ` +
        `do not cover it) and nobody is there to approve it. Do the task without it, and say in your ` +
        `answer what you needed it for.`,
    }),
};

/** What a tool call is about, in a few words: the file (relative to the worktree), the command, the URL. */
export function toolSubject(input: unknown, workdir: string): string {
  if (typeof input !== 'object' || input === null) return '';
  const fields = input as Record<string, unknown>;
  for (const key of ['file_path', 'notebook_path', 'path']) {
    const value = fields[key];
    if (typeof value === 'string') {
      const rel = isAbsolute(value) ? relative(workdir, value) : value;
      return rel.startsWith('..') ? value : rel || '.';
    }
  }
  for (const key of ['command', 'pattern', 'url', 'description', 'prompt', 'skill']) {
    const value = fields[key];
    if (typeof value === 'string') {
      const firstLine = value.split('\n')[0] ?? '';
      return firstLine.length > 80 ? `${firstLine.slice(0, 79)}…` : firstLine;
    }
  }
  return '';
}

/** The pieces of an assistant message worth showing: its text, and each tool use as `→ Edit src/a.ts`. */
export function assistantText(content: unknown, workdir: string): string[] {
  if (!Array.isArray(content)) return [];
  const pieces: string[] = [];
  for (const block of content as Record<string, unknown>[]) {
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') {
      pieces.push(block.text.endsWith('\n') ? block.text : `${block.text}\n`);
    } else if (block.type === 'tool_use' && typeof block.name === 'string') {
      const subject = toolSubject(block.input, workdir);
      pieces.push(`→ ${block.name}${subject ? ` ${subject}` : ''}\n`);
    }
  }
  return pieces;
}
