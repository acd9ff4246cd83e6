package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestRPCErrorKindsRoundTrip: every failure a leader reports to the
// follower that forwarded a write comes back as the same sentinel, and an
// unknown outcome is never taken for "not proposed" (which Propose retries).
func TestRPCErrorKindsRoundTrip(t *testing.T) {
	for kind, want := range map[string]error{
		errKindNoLeader: ErrNoLeader, errKindTooLarge: ErrTooLarge, errKindNodeNotFound: ErrNodeNotFound,
		errKindJoinRefused: ErrJoinRefused, errKindUnknown: ErrOutcomeUnknown, errKindNotLeader: errNotLeaderRemote,
	} {
		err := rpcError(kind, "x")
		if !errors.Is(err, want) {
			t.Errorf("%s → %v, want %v", kind, err, want)
		}
		if kind == errKindUnknown && (errors.Is(err, errRetryable) || errors.Is(err, ErrNoLeader) || errors.Is(err, errNotLeaderRemote)) {
			t.Errorf("an unknown outcome would be retried: %v", err)
		}
	}
}

// TestForwardFailureOutcome: a forward that could not even dial the leader
// may be routed again; one that failed after the request may have gone out
// (the connection lost or timed out) is a write of unknown outcome — the
// client is told it may or may not have taken effect — never an internal
// error.
func TestForwardFailureOutcome(t *testing.T) {
	dial := forwardFailure(fmt.Errorf("%w: leader:1: %w", errDial, errors.New("connection refused")))
	if !errors.Is(dial, errRetryable) || errors.Is(dial, ErrOutcomeUnknown) {
		t.Fatalf("dial failure: %v", dial)
	}
	for _, cause := range []error{io.EOF, io.ErrUnexpectedEOF, context.DeadlineExceeded, errors.New("connection reset by peer")} {
		err := forwardFailure(fmt.Errorf("rpc to leader:1: %w", cause))
		if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, errRetryable) {
			t.Fatalf("lost round trip (%v): %v, want ErrOutcomeUnknown", cause, err)
		}
	}
}
