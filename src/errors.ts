/** A failure the user can act on: a one-line message, a stable code for --json, an exit code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = 1,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Usage errors and ambiguity exit with 2. */
export function usageError(code: string, message: string, details?: Record<string, unknown>): CliError {
  return new CliError(code, message, 2, details);
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The user cancelled (Esc or Ctrl-C at a prompt, Ctrl-C during a login or a refresh): not an error.
 * Reported as its message alone, without "error:", and exits 130 like a shell's Ctrl-C.
 */
export class Cancelled extends CliError {
  constructor(message = 'Cancelled; nothing was changed.') {
    super('cancelled', message, 130);
    this.name = 'Cancelled';
  }
}
