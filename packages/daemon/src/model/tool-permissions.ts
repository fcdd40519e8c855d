import { isAbsolute, relative } from 'node:path';
import type { ToolRule } from '@orc/shared';

/** A tool call Claude Code wants to make that the permission mode and allowed tools do not cover. */
export interface ToolCall {
  /** Claude Code's id of the tool use, when it gives one. */
  id?: string;
  tool: string;
  input: Record<string, unknown>;
  /** The agent's working directory, for showing paths short. */
  workdir: string;
  /** Why Claude Code asks ("This command requires approval"). */
  reason?: string;
}

/**
 * What a tool call gets. `forSession`: allowed for the rest of the agent's session, as Claude Code
 * suggests it (the same tool and rule are not asked about again). A refusal carries what the agent is told
 * and why it was refused, which is recorded on the attempt.
 */
export type ToolDecision =
  { allow: true; forSession?: boolean } | { allow: false; message: string; reason: string };

/**
 * Who answers such a call: a person through the inbox (the Agent SDK's `canUseTool` waits for the answer,
 * which is why the prompt is streaming input), or nobody, and the call is refused.
 */
export interface ToolPermissions {
  decide(call: ToolCall, signal: AbortSignal): Promise<ToolDecision>;
}

/** What the agent is told when a call is refused: go on without it, and say what it was for. */
export function refusalMessage(tool: string, why: string): string {
  return `${tool} is not allowed: ${why}. Do the task without it, and say in your answer what you needed it for.`;
}

export const refuseUnlistedTools: ToolPermissions = {
  decide: (call) =>
    Promise.resolve({
      allow: false,
      reason: 'it needs a person’s approval and nobody is there to give it',
      message: refusalMessage(
        call.tool,
        'claude_cli.permission_mode and claude_cli.allowed_tools do not cover it, and nobody is there to approve it',
      ),
    }),
};

/** The rule `claude_cli.permissions` gives a tool: by its name, else `*`, else ask. */
export function toolRule(rules: Readonly<Record<string, ToolRule>> | undefined, tool: string): ToolRule {
  return rules?.[tool] ?? rules?.['*'] ?? 'ask';
}

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
