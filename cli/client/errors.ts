// Client errors, each carrying the exact text docker's CLI would print for the same situation.

/** The daemon answered 4xx/5xx: "Error response from daemon: <message>" (docker's client request.go). */
export class DaemonError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

/** No connection could be made (the manager is not running, refused TLS, ...). */
export class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Any other failure that must reach the user as plain text (docker prints err.Error() and exits 1). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
