import { createRequire } from 'node:module';
import path from 'node:path';
import blessed from 'blessed';
import { WIDE_CHAR, charCells } from './text-cells.js';

/**
 * blessed 0.1.81 (the last release, 2015) on today's systems, and what we do about it:
 *
 * - It cannot read ncurses 6 terminfo files in the 32-bit number format, which is how every current
 *   distribution ships `xterm-256color`, `screen-256color` and `tmux-256color`. Depending on the file it
 *   either fails an assertion and falls back to a built-in entry, or reads garbage, tries to compile a
 *   capability (`Setulc`, `plab_norm`), prints the broken code with console.error straight onto the
 *   screen, and can draw a "Terminfo parse error" box. We never let it parse the system database: the
 *   screen always uses one of the terminfo files blessed ships (which it parses cleanly), picked from
 *   $TERM. Every terminal people run this in (xterm, VTE, iTerm2, kitty, tmux, screen, Windows Terminal)
 *   understands those sequences.
 * - Its line drawing goes through the VT100 alternate character set, which a UTF-8 terminal or tmux's
 *   capture shows as "lqqk"; in a UTF-8 locale we draw with Unicode box characters instead.
 * - Its width table predates emoji, so an emoji counts one cell and shifts the rest of its line; we
 *   teach it the same widths the terminal uses (text-cells.ts).
 *
 * These are contained here rather than in a fork: the maintained forks (neo-blessed, reblessed) fix
 * some of them but not the terminfo reader, and would add a dependency for what is a few lines.
 */

export interface TerminalOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** $TERM and the locale variables; defaults to the process environment. */
  env?: NodeJS.ProcessEnv;
}

/** The built-in terminfo entry that fits the user's terminal: 256 colours where it has them. */
export function builtinTerminal(env: NodeJS.ProcessEnv): 'xterm-256color' | 'xterm' | 'linux' {
  const term = (env.TERM ?? '').toLowerCase();
  if (term === 'linux') return 'linux';
  if (/256|direct|truecolor/.test(term) || /truecolor|24bit/i.test(env.COLORTERM ?? ''))
    return 'xterm-256color';
  // tmux and screen sessions commonly keep TERM=screen/tmux while the outer terminal has 256 colours.
  if (term.startsWith('tmux') || term.startsWith('screen') || term.startsWith('xterm'))
    return 'xterm-256color';
  return 'xterm';
}

export function isUtf8Locale(env: NodeJS.ProcessEnv): boolean {
  return /utf-?8/i.test([env.LC_ALL, env.LC_CTYPE, env.LANG, env.LANGUAGE].filter(Boolean).join(':'));
}

interface BlessedUnicode {
  charWidth(str: string | number, i?: number): number;
  codePointAt(str: string, i: number): number;
  chars: { all: RegExp };
  __orcWidths?: true;
}

/** Teaches blessed terminal widths for emoji; idempotent, and leaves tabs and ASCII to blessed. */
function teachWidths(): void {
  const unicode = (blessed as unknown as { unicode: BlessedUnicode }).unicode;
  if (unicode.__orcWidths) return;
  const original = unicode.charWidth.bind(unicode);
  unicode.charWidth = (str, i) => {
    const point = typeof str === 'number' ? str : unicode.codePointAt(str, i ?? 0);
    return point < 0x300 ? original(point) : charCells(point);
  };
  unicode.chars.all = WIDE_CHAR;
  unicode.__orcWidths = true;
}

type Internal = { _terminal: string; tput: { brokenACS: boolean; unicode: boolean } };

export function createTerminalScreen(options: TerminalOptions = {}): blessed.Widgets.Screen {
  const env = options.env ?? process.env;
  teachWidths();
  const name = builtinTerminal(env);
  const utf8 = isUtf8Locale(env);
  // A path makes blessed read that file instead of searching the system database. Should the path not be
  // readable as given (blessed lower-cases it), blessed falls back to its own file of the same name.
  const usr = path.join(path.dirname(createRequire(import.meta.url).resolve('blessed/package.json')), 'usr');
  const program = blessed.program({
    input: options.input,
    output: options.output,
    terminal: path.join(usr, name),
    forceUnicode: utf8,
    tput: true,
    buffer: true,
    zero: true,
  } as unknown as blessed.Widgets.IScreenOptions);
  const internal = program as unknown as Internal;
  // blessed tailors some sequences by terminal name (`term('xterm')`); give it the name, not the path.
  internal._terminal = name;
  if (utf8) internal.tput.brokenACS = true;
  return blessed.screen({
    program,
    smartCSR: true,
    fullUnicode: utf8,
    forceUnicode: utf8,
    warnings: false,
    autoPadding: true,
    dockBorders: true,
    title: 'orc',
    // Ctrl-C leaves even while a text prompt (a note for an inbox answer) holds the keys.
    ignoreLocked: ['C-c'],
  });
}
