package phone

import (
	"errors"

	"github.com/waedge/waedge/signalstore"
)

// ErrNotStarted reports an operation that needs the network before Start.
var ErrNotStarted = errors.New("phone: not started")

// ErrNoMessage reports a message id the phone does not know.
var ErrNoMessage = errors.New("phone: no such message")

// ErrNotMedia reports FetchMedia on a message without media.
var ErrNotMedia = errors.New("phone: message has no media")

// ErrBadBundle reports a prekey bundle from the network that cannot start a session.
var ErrBadBundle = signalstore.ErrBadBundle

// ErrWrongNumber reports a signing request for a number that is not this phone's.
var ErrWrongNumber = errors.New("phone: not this phone's number")

// ErrStore reports a stored record the phone cannot read back (a damaged store).
var ErrStore = signalstore.ErrStore
