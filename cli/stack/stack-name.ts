// The stack name as docker checks it, and the label filter every stack command lists with.
import { CliError } from '../client/errors.js';
import { filtersToJSON } from '../client/objects.js';
import { NAMESPACE_LABEL } from './convert.js';

/** docker: empty after trimming whitespace and quotes is refused; nothing else is checked client-side. */
export function checkStackName(name: string): string {
  if (name.trim().replace(/^["']+|["']+$/g, '').trim() === '') throw new CliError(`invalid stack name: ${JSON.stringify(name)}`);
  return name;
}

/** {"label":{"com.docker.stack.namespace=<stack>":true}} */
export function stackFilter(stack: string): string {
  return filtersToJSON(new Map([['label', new Set([`${NAMESPACE_LABEL}=${stack}`])]]));
}
