// Package signalstore implements go.mau.fi/libsignal's stores on a small
// key-value Store, plus the cipher helpers both ends of a conversation use:
// the simulated phones (package phone, over their own bbolt or memory store)
// and waedge's business side (package connector, over an overlay of the
// replicated FSM). Every load deserializes fresh bytes and every store
// serializes; see DESIGN.md in package phone for the libsignal pitfalls this
// follows.
package signalstore
