/**
 * How many terminal cells text takes, by the rules terminals follow (wcwidth): East Asian wide characters
 * and emoji take two, combining marks and joiners none. The screen pads and cuts columns with these, and
 * blessed is taught the same rules (see blessed-terminal.ts), so what we measure is what is drawn.
 */

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
/**
 * Emoji drawn two cells wide. Regional indicators are not: terminals follow wcwidth, one cell each, so a
 * flag (a pair of them) takes two (tmux 3.3 measured: 🇫🇷 2 cells, 🇫 1, 📝 2).
 */
const EMOJI = /^(?!\p{Regional_Indicator})\p{Emoji_Presentation}$/u;

/** East Asian Wide and Fullwidth ranges (Unicode 15), the ones terminals draw two cells wide. */
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1b000, 0x1b2ff],
  [0x1f200, 0x1f2ff],
  [0x20000, 0x3fffd],
];

const hex = (cp: number) => `\\u{${cp.toString(16)}}`;

/** Matches one character that takes two cells (for blessed, which puts a filler cell after each). */
export const WIDE_CHAR = new RegExp(
  `([${WIDE_RANGES.map(([a, b]) => `${hex(a)}-${hex(b)}`).join('')}]|(?!\\p{Regional_Indicator})\\p{Emoji_Presentation})`,
  'gu',
);

export function charCells(codePoint: number): 0 | 1 | 2 {
  if (codePoint < 32 || (codePoint >= 0x7f && codePoint < 0xa0)) return 0;
  if (codePoint < 0x300) return 1;
  const ch = String.fromCodePoint(codePoint);
  if (ZERO_WIDTH.test(ch)) return 0;
  if (WIDE_RANGES.some(([a, b]) => codePoint >= a && codePoint <= b) || EMOJI.test(ch)) return 2;
  return 1;
}

export function cellWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charCells(ch.codePointAt(0)!);
  return width;
}

/** Cuts text to at most `width` cells, ending in "…" when it had to cut. */
export function truncateCells(text: string, width: number): string {
  if (width <= 0) return '';
  if (cellWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = charCells(ch.codePointAt(0)!);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return out + '…';
}

/** Exactly `width` cells: cut with "…" or padded with spaces (on the left when `align` is right). */
export function fitCells(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = truncateCells(text, width);
  const pad = ' '.repeat(Math.max(0, width - cellWidth(cut)));
  return align === 'left' ? cut + pad : pad + cut;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/** A zero-width joiner glues emoji into one glyph terminals disagree on; keep the first of the sequence. */
const JOINED = /\u200d\p{Extended_Pictographic}\ufe0f?/gu;
/**
 * More glyphs terminals draw at different widths: a skin tone after an emoji (tmux 3.3: 4 cells, most
 * terminals 2), the emoji-style selector (❤️: 1 cell in tmux, 2 in kitty and iTerm2) and flags, a pair of
 * regional indicators (tmux 3.3 loses what follows one on the line). Tones and selectors are dropped,
 * flags spelled as their two letters (🇫🇷 → FR), so every terminal draws what the columns assume.
 */
const SKIN_TONE_OR_SELECTOR = /[\p{Emoji_Modifier}\ufe0f]/gu;
const REGIONAL_INDICATOR = /\p{Regional_Indicator}/gu;
const RI_A = 0x1f1e6;

/**
 * Model output and task text as plain printable text: escape sequences and control characters removed
 * (they would move the cursor or change colours under the UI), tabs as spaces, newlines kept.
 */
export function plainText(text: string): string {
  return text
    .replace(ANSI, '')
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, '  ')
    .replace(CONTROL, '')
    .replace(JOINED, '')
    .replace(SKIN_TONE_OR_SELECTOR, '')
    .replace(REGIONAL_INDICATOR, (ch) => String.fromCharCode(65 + ch.codePointAt(0)! - RI_A));
}

/** One line of plain text: newlines become spaces. */
export function oneLine(text: string): string {
  return plainText(text)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

/** Text shown inside a blessed box with tags on: braces would otherwise start a tag. */
export function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (ch) => (ch === '{' ? '{open}' : '{close}'));
}

/**
 * Splits text into lines of at most `width` cells, at spaces where it can; a word longer than a line
 * (a file's path) is broken across lines, not cut.
 */
export function wrapCells(text: string, width: number): string[] {
  if (width <= 0) return [];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (cellWidth(next) <= width) {
      line = next;
      continue;
    }
    if (line !== '') lines.push(line);
    line = '';
    for (const ch of word) {
      if (line !== '' && cellWidth(line + ch) > width) {
        lines.push(line);
        line = '';
      }
      line += ch;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
