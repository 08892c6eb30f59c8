// Errors that carry an HTTP-like status and a message meant for the user. Messages never contain secret bytes.
export class UserError extends Error {
  constructor(
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** The message of anything thrown, for logs and error chains. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
