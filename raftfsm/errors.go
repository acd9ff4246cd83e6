package raftfsm

import (
	"errors"
	"fmt"
)

// Domain errors: a command that fails with one of these changes nothing and
// its error travels back to the proposer as the command's Result.Err.
var (
	// ErrNotFound: the referenced record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record already exists or a unique value is taken.
	ErrConflict = errors.New("already exists")
	// ErrInvalid: the command's values are not acceptable.
	ErrInvalid = errors.New("invalid command")
	// ErrTokenInvalid: a join token that is unknown, wrong or expired.
	ErrTokenInvalid = errors.New("join token invalid or expired")
	// ErrTokenUsed: a join token that was already consumed.
	ErrTokenUsed = errors.New("join token already used")
	// ErrIgnored: an unknown command type flagged ignorable was skipped.
	ErrIgnored = errors.New("command type unknown to this version; ignored")
	// ErrVersion: a compare-and-set precondition failed.
	ErrVersion = errors.New("version mismatch")
	// ErrWindowClosed: a non-template message outside the 24-hour customer
	// service window.
	ErrWindowClosed = errors.New("customer service window closed")
	// ErrRateLimited: too many register/deregister calls in 72 hours.
	ErrRateLimited = errors.New("rate limit exceeded")
	// ErrPINMismatch: the two-step verification PIN does not match.
	ErrPINMismatch = errors.New("PIN mismatch")
	// ErrMessagingLimit: a business-initiated message to one more distinct
	// consumer than the number's messaging-limit tier allows in 24 hours.
	ErrMessagingLimit = errors.New("messaging limit reached")
	// ErrExpired: a data key for a period that expiry has already passed
	// (a late proposer must not bring a destroyed key back).
	ErrExpired = errors.New("expired")
	// ErrClosed: the FSM is closed (not a domain error; has no wire code).
	ErrClosed = errors.New("state machine closed")
	// ErrCorrupt: an entry, command or payload that does not decode. Apply
	// panics on it; it is returned only by the exported decoders.
	ErrCorrupt = errors.New("corrupt raft entry")
)

// codes gives each domain error a stable number for the wire.
var codes = []struct {
	code uint16
	err  error
}{
	{1, ErrNotFound},
	{2, ErrConflict},
	{3, ErrInvalid},
	{4, ErrTokenInvalid},
	{5, ErrTokenUsed},
	{6, ErrIgnored},
	{7, ErrVersion},
	{8, ErrWindowClosed},
	{9, ErrRateLimited},
	{10, ErrPINMismatch},
	{11, ErrMessagingLimit},
	{12, ErrPairRate},
	{13, ErrThroughput},
	{40, ErrExpired},
}

// codeUnknown is the code of an error that is not a known sentinel.
const codeUnknown uint16 = 0xffff

// ErrorCode returns err's wire code: 0 for nil, the sentinel's code for a
// domain error (wrapped or not), 0xffff for anything else.
func ErrorCode(err error) uint16 {
	if err == nil {
		return 0
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return codeUnknown
}

// ErrorFromCode rebuilds a domain error from its wire code and message, so
// errors.Is against the sentinel holds on the receiving side. Code 0 gives
// nil; an unknown code gives a plain error carrying msg.
func ErrorFromCode(code uint16, msg string) error {
	if code == 0 {
		return nil
	}
	for _, c := range codes {
		if c.code == code {
			if msg == "" || msg == c.err.Error() {
				return c.err
			}
			return &remoteError{sentinel: c.err, msg: msg}
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("remote error (code %d)", code)
	}
	return errors.New(msg)
}

type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// domainErr wraps a sentinel with detail.
func domainErr(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
