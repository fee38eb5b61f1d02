// The share of the test address space a test process may use. scripts/run-tests.js runs
// several test processes at once and gives each a slot (BERTH_TEST_SLOT, 0-based, of
// BERTH_TEST_SLOTS); tests that put subnets on the host (the e2e harness's daemons, the
// bridge driver's tests) choose among 10.199.0.0/16's thirty-two /21 blocks only those of
// their slot, so two processes never pick the same free block at the same moment (a choice
// skips what the host routes, but a daemon routes its block only once it has started).
// Without the variables (a file run by hand) every block is the process's.

/** Whether this process may put subnets in /21 block `index` (0-31: 10.199.<8 × index>.0/21). */
export function ownsTestBlock(index: number): boolean {
  const slots = Number(process.env.BERTH_TEST_SLOTS);
  const slot = Number(process.env.BERTH_TEST_SLOT);
  if (!Number.isInteger(slots) || slots < 2 || !Number.isInteger(slot)) return true;
  return index % slots === slot % slots;
}
