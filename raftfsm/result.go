package raftfsm

// Result is the outcome of applying one command. ApplyBatch answers a
// command entry with one Result per command, in order.
type Result struct {
	// Value is handler-defined output (may be nil).
	Value []byte
	// Err is nil or a domain error (errors.Is-able against the sentinels in
	// errors.go). It crosses the network as ErrorCode and the message.
	Err error
}

// Outcome folds the two ways a proposal can fail into one error: err, when
// replication failed (the command may or may not have been applied), or
// else the command's own domain error (errors.Is-able against the
// sentinels). It returns the result's value. Call it on Propose directly:
//
//	v, err := raftfsm.Outcome(cluster.Propose(ctx, cmd))
//
// Callers that must tell "not known to be applied" from "applied and
// refused" (the join handshake) read Result themselves; a CmdSignalRound's
// parts are unwrapped with RoundOutcomes.
func Outcome(res Result, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return res.Value, res.Err
}
