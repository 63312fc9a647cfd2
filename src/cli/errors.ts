// CliError carries a one-line message and the process exit code. main.ts, the
// only place allowed to exit, turns it into that line on stderr and that code.

/** EXIT follows sysexits.h where a code fits, so scripts can tell failures apart. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  UNAVAILABLE: 69,
  NO_PERMISSION: 77,
  CONFIG: 78,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}
