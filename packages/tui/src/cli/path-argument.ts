/**
 * Whether a one-word argument reads as a file or directory rather than a goal: it has a slash, starts
 * with `.` or `~`, or ends in a file extension (`tasks.txt`, `./nodir/`, `../plan.json`, `~/x`). A goal
 * is words; `orc run tasks.txt` for a file that is not there is a typo, not a goal to plan.
 */
export function looksLikePath(arg: string): boolean {
  if (/\s/.test(arg.trim())) return false;
  return arg.includes('/') || /^[.~]/.test(arg) || /\.[A-Za-z][A-Za-z0-9]{0,5}$/.test(arg);
}
