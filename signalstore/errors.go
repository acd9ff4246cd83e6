package signalstore

import "errors"

// ErrBadBundle reports a prekey bundle from the network that cannot start a session.
var ErrBadBundle = errors.New("signalstore: unusable prekey bundle")

// ErrStore reports a stored record that cannot be read back (a damaged store).
var ErrStore = errors.New("signalstore: corrupt store record")
