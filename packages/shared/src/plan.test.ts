import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { FinalReview, Plan } from './plan.js';
import { TaskReview } from './task.js';

interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  required?: string[];
  additionalProperties?: unknown;
}

/** Structured output needs every object closed and every property required; returns the paths that are not. */
function structuredOutputProblems(node: JsonSchemaNode, path = '$'): string[] {
  const problems: string[] = [];
  if (node.type === 'object') {
    if (node.additionalProperties !== false) problems.push(`${path}: additionalProperties is not false`);
    const keys = Object.keys(node.properties ?? {});
    const missing = keys.filter((key) => !node.required?.includes(key));
    if (missing.length > 0) problems.push(`${path}: not required: ${missing.join(', ')}`);
    for (const key of keys)
      problems.push(...structuredOutputProblems(node.properties![key]!, `${path}.${key}`));
  }
  if (node.items) problems.push(...structuredOutputProblems(node.items, `${path}[]`));
  return problems;
}

describe('structured output schemas', () => {
  it.each([
    ['Plan', Plan],
    ['FinalReview', FinalReview],
    ['TaskReview', TaskReview],
  ])('%s closes every object and requires every field, read as input or output', (_name, schema) => {
    for (const io of ['input', 'output'] as const) {
      const json = z.toJSONSchema(schema, { io }) as JsonSchemaNode;
      expect(json.type).toBe('object');
      expect(structuredOutputProblems(json)).toEqual([]);
    }
  });

  it('Plan requires the task fields the scheduler reads', () => {
    const json = z.toJSONSchema(Plan) as JsonSchemaNode;
    const task = json.properties!['tasks']!.items!;
    expect(task.required).toEqual(
      expect.arrayContaining(['id', 'title', 'description', 'dependencies', 'priority']),
    );
  });

  it('the checker itself flags an open object and an optional field', () => {
    const loose = z.toJSONSchema(
      z.looseObject({ a: z.string(), b: z.string().optional() }),
    ) as JsonSchemaNode;
    expect(structuredOutputProblems(loose)).toEqual([
      '$: additionalProperties is not false',
      '$: not required: b',
    ]);
  });
});
