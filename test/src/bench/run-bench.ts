/**
 * Runs a benchmark script's `main` and exits with its outcome: 0 once it printed its figures, 1
 * with the error. A bench leaves no handle that should keep the process alive after that.
 */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** Tears the fleet down; a teardown problem (reported to the harness owner) must not throw the figures away. */
export async function tearDownKeepingFigures(fleet: { teardown(): Promise<void> }): Promise<void> {
  await fleet.teardown().catch((error: Error) => process.stderr.write(`teardown: ${error.message}\n`));
}
