package network

import "errors"

// ErrInvalid reports a request or payload that fails validation (bad number, key length, id, size...).
var ErrInvalid = errors.New("network: invalid request")

// ErrUnauthorized reports a connection that has not proved possession of the number's identity key.
var ErrUnauthorized = errors.New("network: unauthorized")

// ErrNotRegistered reports an operation on a number the relay does not know.
var ErrNotRegistered = errors.New("network: number not registered")

// ErrUnknownRecipient reports a send to a number that is not registered on the network.
var ErrUnknownRecipient = errors.New("network: unknown recipient")

// ErrAlreadyRegistered reports a registration of a number that belongs to a different identity key.
var ErrAlreadyRegistered = errors.New("network: number registered to another identity")

// ErrIDConflict reports an envelope id already used by a different sender.
var ErrIDConflict = errors.New("network: envelope id used by another sender")

// ErrBlocked reports a send to a consumer who has blocked the sender.
var ErrBlocked = errors.New("network: recipient has blocked the sender")

// ErrInternal reports a failure inside the relay (storage); the request may be retried.
var ErrInternal = errors.New("network: internal relay error")

// ErrFrameTooLarge reports a frame or payload larger than MaxFrameSize.
var ErrFrameTooLarge = errors.New("network: frame too large")

// ErrBadFrame reports bytes that are not a well-formed frame, envelope or delivery.
var ErrBadFrame = errors.New("network: malformed frame")

// ErrBadContent reports a message content payload that does not decode or validate.
var ErrBadContent = errors.New("network: malformed content")

// ErrBadMedia reports an encrypted media blob that fails authentication or does not match its reference.
var ErrBadMedia = errors.New("network: media blob does not match its reference")

// ErrClosed reports use of a connection after Close.
var ErrClosed = errors.New("network: connection closed")

// ErrDisconnected reports a request that was in flight when the connection dropped; it may be retried.
var ErrDisconnected = errors.New("network: disconnected")

// ErrNotFound reports a missing blob.
var ErrNotFound = errors.New("network: not found")

// ErrRateLimited reports a request refused by a rate limit (prekey bundle fetches); retry later.
var ErrRateLimited = errors.New("network: rate limited")

// codeErrors maps the wire error codes carried in Result frames to sentinel errors.
var codeErrors = map[string]error{
	"invalid":            ErrInvalid,
	"unauthorized":       ErrUnauthorized,
	"not_registered":     ErrNotRegistered,
	"unknown_recipient":  ErrUnknownRecipient,
	"already_registered": ErrAlreadyRegistered,
	"id_conflict":        ErrIDConflict,
	"blocked":            ErrBlocked,
	"internal":           ErrInternal,
	"too_large":          ErrFrameTooLarge,
	"bad_frame":          ErrBadFrame,
	"not_found":          ErrNotFound,
	"rate_limited":       ErrRateLimited,
}

// ErrorCode returns the wire code for err (matched with errors.Is against the sentinels), or "internal".
func ErrorCode(err error) string {
	for code, sentinel := range codeErrors {
		if errors.Is(err, sentinel) {
			return code
		}
	}
	return "internal"
}

// CodeError turns a wire code and message back into an error wrapping the matching sentinel.
// An empty code means success and returns nil.
func CodeError(code, msg string) error {
	if code == "" {
		return nil
	}
	sentinel, ok := codeErrors[code]
	if !ok {
		sentinel = ErrInternal
	}
	if msg == "" || msg == sentinel.Error() {
		return sentinel
	}
	return &remoteError{sentinel: sentinel, msg: msg}
}

// remoteError carries the relay's message while matching the sentinel with errors.Is.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }
