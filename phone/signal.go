package phone

import (
	"log/slog"

	"go.mau.fi/libsignal/protocol"

	"github.com/waedge/waedge/signalstore"
)

// The Signal store and cipher helpers live in signalstore, shared with waedge's business side.
type (
	// SignalStore is signalstore.SignalStore.
	SignalStore = signalstore.SignalStore
	// Locks is signalstore.Locks.
	Locks = signalstore.Locks
)

// OpenSignalStore is signalstore.Open.
func OpenSignalStore(st Store) (*SignalStore, error) { return signalstore.Open(st) }

// Address is signalstore.Address.
func Address(number string, deviceID uint32) *protocol.SignalAddress {
	return signalstore.Address(number, deviceID)
}

// IsDuplicate is signalstore.IsDuplicate.
func IsDuplicate(err error) bool { return signalstore.IsDuplicate(err) }

// SetupSignalLogging is signalstore.SetupLogging.
func SetupSignalLogging(logger *slog.Logger) { signalstore.SetupLogging(logger) }
