/**
 * How many cells a terminal gives text, by wcwidth's rules as tmux 3.3 applies them, for the characters
 * the screen tests use: East Asian wide characters and emoji two, marks and joiners none, regional
 * indicators one each. Written apart from the screen's own measure so a test does not check the code
 * with itself.
 */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2e80, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
];

export function terminalCells(text: string): number {
  let cells = 0;
  for (const ch of text) {
    const point = ch.codePointAt(0)!;
    if (/[\p{Mn}\p{Me}\p{Cf}]/u.test(ch)) continue;
    const wide =
      !/\p{Regional_Indicator}/u.test(ch) &&
      (/\p{Emoji_Presentation}/u.test(ch) || WIDE.some(([a, b]) => point >= a && point <= b));
    cells += wide ? 2 : 1;
  }
  return cells;
}
