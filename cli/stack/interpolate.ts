// Compose's variable interpolation (compose-spec interpolation.md), on every string of the file: `$VAR`, `${VAR}`,
// `${VAR:-default}` / `${VAR-default}`, `${VAR:?err}` / `${VAR?err}`, and `$$` for a literal `$`. An unset variable
// without a default becomes empty, as the docker CLI does.
export class InterpolationError extends Error {}

const PATTERN = /\$(?:(\$)|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|(\{[^}]*\}?))/g;

export function interpolate(text: string, env: NodeJS.ProcessEnv, where: string): string {
  return text.replace(PATTERN, (_m, dollar: string | undefined, bare: string | undefined, braced: string | undefined, op: string | undefined, arg: string | undefined, bad: string | undefined) => {
    if (dollar) return '$';
    if (bad !== undefined) throw new InterpolationError(`invalid interpolation format for ${where}: "${text}"; you may need to escape any $ with another $`);
    const name = (bare ?? braced)!;
    const value = env[name];
    if (op === undefined) return value ?? '';
    const unset = op.startsWith(':') ? value === undefined || value === '' : value === undefined;
    if (op.endsWith('-')) return unset ? (arg ?? '') : value!;
    if (unset) throw new InterpolationError(`required variable ${name} is missing a value: ${arg ?? ''}`);
    return value!;
  });
}
