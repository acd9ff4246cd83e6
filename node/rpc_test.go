package node

import (
	"errors"
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
