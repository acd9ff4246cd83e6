//go:build !waedge_noseal

package seal

// sealing is true in every real build: content is always sealed.
const sealing = false // MUTATION noop-seal: content stored as it came
