/**
 * What `JSON.parse` found wrong with `text`, on one line and without the text itself. V8 quotes the
 * text around the fault (`Unexpected token '#', "# notes\n…" is not valid JSON`): newlines that cut an
 * error line short, and whatever the file holds (a key in a config file) copied into an error.
 */
export function jsonSyntaxProblem(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message
    .replace(/,\s*(?:\.\.\.)?".*"(?:\.\.\.)?\s+is not valid JSON$/s, '')
    .replace(/\s+(?:in JSON )?at position \d+.*$/s, '')
    .replace(/[\r\n]+/g, ' ')
    .trim();
  const position = /\bat position (\d+)/.exec(message);
  if (!position) return reason;
  const offset = Math.min(Number(position[1]), text.length);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${reason} at line ${line}, column ${column}`;
}
