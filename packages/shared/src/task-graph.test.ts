import { describe, expect, it } from 'vitest';
import { OrcError } from './errors.js';
import { assertValidTaskGraph, criticalPathLengths } from './task-graph.js';

type Node = { id: string; dependencies: string[] };

const node = (id: string, ...dependencies: string[]): Node => ({ id, dependencies });

/** t0 <- t1 <- … <- t(n-1): each task depends on the one before it. */
function chain(n: number): Node[] {
  return Array.from({ length: n }, (_, i) => node(`t${i}`, ...(i === 0 ? [] : [`t${i - 1}`])));
}

function graphError(
  nodes: readonly Node[],
  code: 'PLAN_INVALID' | 'TASK_FILE_INVALID' = 'PLAN_INVALID',
): OrcError {
  try {
    assertValidTaskGraph(nodes, 'tasks.json', code);
  } catch (error) {
    expect(error).toBeInstanceOf(OrcError);
    expect((error as OrcError).code).toBe(code);
    expect((error as OrcError).message.startsWith('tasks.json: ')).toBe(true);
    return error as OrcError;
  }
  throw new Error('expected the graph to be rejected');
}

describe('assertValidTaskGraph', () => {
  it('accepts an empty graph, a diamond and a graph in any order', () => {
    expect(() => assertValidTaskGraph([], 'plan', 'PLAN_INVALID')).not.toThrow();
    const diamond = [node('d', 'b', 'c'), node('b', 'a'), node('c', 'a'), node('a')];
    expect(() => assertValidTaskGraph(diamond, 'plan', 'PLAN_INVALID')).not.toThrow();
  });

  it('rejects a duplicate id, naming it', () => {
    const { message } = graphError([node('a'), node('b'), node('a')], 'TASK_FILE_INVALID');
    expect(message).toContain('"a"');
    expect(message).toContain('used twice');
  });

  it('rejects an unknown dependency, naming both ids', () => {
    const { message } = graphError([node('a'), node('b', 'a', 'ghost')]);
    expect(message).toContain('"b"');
    expect(message).toContain('"ghost"');
  });

  it('rejects a task that depends on itself', () => {
    const { message } = graphError([node('a'), node('b', 'b')]);
    expect(message).toContain('"b" depends on itself');
  });

  it('rejects a two-task cycle, showing its path', () => {
    const { message } = graphError([node('a', 'b'), node('b', 'a')]);
    expect(message).toContain('dependency cycle a -> b -> a');
  });

  it('shows only the tasks on the cycle, not the path into it', () => {
    const { message } = graphError([
      node('entry', 'x'),
      node('x', 'y'),
      node('y', 'z'),
      node('z', 'x'),
      node('free'),
    ]);
    expect(message).toContain('dependency cycle x -> y -> z -> x;');
    expect(message).not.toContain('entry');
  });

  it('accepts a chain of 10,000 tasks without overflowing the stack', () => {
    const nodes = chain(10_000);
    expect(() => assertValidTaskGraph(nodes, 'plan', 'PLAN_INVALID')).not.toThrow();
    expect(() => assertValidTaskGraph([...nodes].reverse(), 'plan', 'PLAN_INVALID')).not.toThrow();
  });

  it('finds a cycle closing a chain of 10,000 tasks', () => {
    const nodes = chain(10_000);
    nodes[0] = node('t0', 't9999');
    const { message } = graphError(nodes);
    expect(message).toContain('t0 -> t9999 -> t9998');
    expect(message).toContain('t1 -> t0;');
  });
});

describe('criticalPathLengths', () => {
  it('counts each task and the longest chain of tasks waiting on it', () => {
    // a <- b <- d, a <- c, d <- e: from a the longest chain is a, b, d, e.
    const lengths = criticalPathLengths([
      node('a'),
      node('b', 'a'),
      node('c', 'a'),
      node('d', 'b'),
      node('e', 'd'),
    ]);
    expect(Object.fromEntries(lengths)).toEqual({ a: 4, b: 3, c: 1, d: 2, e: 1 });
  });

  it('gives independent tasks a length of one', () => {
    expect(Object.fromEntries(criticalPathLengths([node('x'), node('y')]))).toEqual({ x: 1, y: 1 });
  });

  it('takes the longer branch of a diamond', () => {
    const lengths = criticalPathLengths([
      node('a'),
      node('b', 'a'),
      node('c', 'a'),
      node('c2', 'c'),
      node('d', 'b', 'c2'),
    ]);
    expect(Object.fromEntries(lengths)).toEqual({ a: 4, b: 2, c: 3, c2: 2, d: 1 });
  });

  it('sums weights along the heaviest chain, which need not be the longest', () => {
    // root <- light1 <- light2 (weights 1 + 1) versus root <- heavy (weight 5).
    const weights: Record<string, number> = { root: 2, light1: 1, light2: 1, heavy: 5 };
    const lengths = criticalPathLengths(
      [node('root'), node('light1', 'root'), node('light2', 'light1'), node('heavy', 'root')],
      (id) => weights[id]!,
    );
    expect(Object.fromEntries(lengths)).toEqual({ root: 7, light1: 2, light2: 1, heavy: 5 });
  });

  it('is not confused by a dependency listed twice', () => {
    const lengths = criticalPathLengths([node('a'), node('b', 'a', 'a')]);
    expect(Object.fromEntries(lengths)).toEqual({ a: 2, b: 1 });
  });

  it('handles a chain of 10,000 tasks', () => {
    const lengths = criticalPathLengths(chain(10_000));
    expect(lengths.get('t0')).toBe(10_000);
    expect(lengths.get('t9999')).toBe(1);
  });
});
