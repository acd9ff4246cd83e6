//go:build waedge_noseal

package seal

// sealing is false only in a binary built with -tags waedge_noseal, which
// exists to measure what sealing costs on the accept path (BENCHMARKS.md):
// content is then stored in the clear. Never ship such a binary; waedge
// serve logs an error at start when it is one.
const sealing = false
