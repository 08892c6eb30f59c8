// The shape a secret's or config's file target must have, checked by the manager's API (a bad one is refused) and
// by the agent (a task whose file cannot be placed fails with this text). Docker checks none of this and cleans
// the path instead (`../x` lands in /run/x); we refuse what a clean would change, so that a target means exactly
// where the file goes.

/** At most this many bytes, as the kernel's PATH_MAX. */
export const MAX_TARGET_LENGTH = 4096;

/** Why target cannot be a file target, or null when it can. Relative targets live under the task's folder. */
export function fileTargetProblem(kind: 'secret' | 'config', target: string): string | null {
  const bad = (why: string): string => `invalid ${kind} target ${JSON.stringify(target)}: ${why}`;
  if (target === '') return bad('it is empty');
  if (target.includes('\0')) return bad('it contains a NUL byte');
  if (Buffer.byteLength(target) > MAX_TARGET_LENGTH) return bad(`longer than ${MAX_TARGET_LENGTH} bytes`);
  const parts = (target.startsWith('/') ? target.slice(1) : target).split('/');
  if (parts.some((p) => p === '..')) return bad('".." is not allowed in a target path');
  if (parts.some((p) => p === '' || p === '.')) return bad('empty or "." path elements are not allowed');
  return null;
}
