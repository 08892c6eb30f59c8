// Object name rules shared by the manager (Docker's API) and the agent (manifests).
// Rules and texts from swarmkit manager/controlapi/common.go (see ../shared/reference §2.1).

const OBJECT_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9\-_.]*[a-zA-Z0-9])?$/;
export const MAX_NAME_LENGTH = 64;

export const NAME_REQUIRED = 'name must be provided';
export const INVALID_NAME =
  'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]';

/** True for a valid secret/config name: 1-64 chars of [a-zA-Z0-9-_.], starting and ending alphanumeric. */
export function isValidObjectName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && OBJECT_NAME.test(name);
}

/** Returns Docker's error text for a bad name, or null when the name is good. */
export function objectNameError(name: string): string | null {
  if (name === '') return NAME_REQUIRED;
  return isValidObjectName(name) ? null : INVALID_NAME;
}
