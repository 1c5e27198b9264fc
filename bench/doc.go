// Package bench holds side-by-side benchmarks of residue's clean verdicts
// against goleak, gleak and fdooze. It is a module of its own so that the
// library does not depend on its peers. Run everything with scripts/bench;
// docs/performance.md has the figures and the commands.
package bench
