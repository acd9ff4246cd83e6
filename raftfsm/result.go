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
