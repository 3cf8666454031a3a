/** Poll until `condition` holds, failing after `timeoutMs` (tests only). */
export async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A promise the test resolves by hand with `open()` (tests only). */
export function gateFor(): { promise: Promise<void>; open: () => void } {
  let openGate!: () => void;
  const promise = new Promise<void>((resolve) => {
    openGate = resolve;
  });
  return { promise, open: openGate };
}
