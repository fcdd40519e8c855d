import { describe, expect, it } from 'vitest';
import { jsonSyntaxProblem } from './json-syntax.js';

const problemOf = (text: string): string => {
  try {
    JSON.parse(text);
  } catch (error) {
    return jsonSyntaxProblem(error, text);
  }
  throw new Error('the text parsed');
};

describe('jsonSyntaxProblem', () => {
  it('leaves out the text V8 quotes, newlines and all', () => {
    const problem = problemOf('# Notes\n\nsk-ant-api03-secret-in-the-file\n');
    expect(problem).toBe("Unexpected token '#'");
    expect(problemOf(`[${'1,'.repeat(100)}x]`)).toBe("Unexpected token 'x'");
  });

  it('gives the line and column where V8 gives a position', () => {
    expect(problemOf('{\n  "models": {\n    "provider": "simulated",\n  }\n}\n')).toBe(
      'Expected double-quoted property name at line 4, column 3',
    );
    expect(problemOf('{}x')).toBe('Unexpected non-whitespace character after JSON at line 1, column 3');
    expect(problemOf('')).toBe('Unexpected end of JSON input');
  });
});
