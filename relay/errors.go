package relay

import "errors"

// ErrClosed reports use of a relay (or its store) after Close.
var ErrClosed = errors.New("relay: closed")

// ErrConfig reports an unusable Config (for example an empty DataDir).
var ErrConfig = errors.New("relay: invalid config")

// ErrPhoneExists reports creating a hosted phone whose number is already hosted.
var ErrPhoneExists = errors.New("relay: hosted phone already exists")

// ErrNoPhone reports a hosted-phone operation on a number the relay does not host.
var ErrNoPhone = errors.New("relay: no such hosted phone")

// errCorrupt reports stored bytes the relay cannot parse (a bug or a damaged file).
var errCorrupt = errors.New("relay: corrupt record")
