package connector

import (
	"context"
	"fmt"
	"testing"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// TestPairLockCoversBothDirections: an outbound message (keyed as the
// Cloud API stores it, by the sealed consumer ref) and an inbound envelope
// of the same (number, consumer) pair land on the same shard worker, so
// the per-pair session lock of invariant 3 serialises both directions.
func TestPairLockCoversBothDirections(t *testing.T) {
	var kek keyring.KEK
	sealer := seal.New(nil, kek, nil)
	const shards = 16
	r := &run{c: &Connector{d: Deps{Sealer: sealer}}, byDigits: map[string]*number{}, byPhoneID: map[string]*number{}}
	r.shards = make([]chan func(context.Context), shards)
	for i := range r.shards {
		r.shards[i] = make(chan func(context.Context), 1)
	}
	n := &number{phoneID: "3", digits: "15550001000"}
	r.byDigits[n.digits], r.byPhoneID[n.phoneID] = n, n
	which := func() int {
		for i, ch := range r.shards {
			select {
			case <-ch:
				return i
			default:
			}
		}
		t.Fatal("no shard got the task")
		return -1
	}
	ctx := context.Background()
	for i := 0; i < 64; i++ {
		consumer := fmt.Sprintf("49151%08d", i)
		pm := raftfsm.PendingMessage{Message: raftfsm.Message{PhoneNumberID: "3", PeerRef: sealer.ConsumerRef("3", consumer)}}
		r.shard(ctx, pm.Message.PhoneNumberID, pm.Message.PeerRef, func(context.Context) {})
		out := which()
		r.deliver(ctx, network.Delivery{Type: network.DeliveryEnvelope, Envelope: &network.Envelope{From: consumer, To: n.digits}})
		if in := which(); in != out {
			t.Fatalf("consumer %d: outbound on shard %d, inbound on shard %d", i, out, in)
		}
	}
}
