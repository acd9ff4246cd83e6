package raftfsm

import (
	"fmt"
	"testing"
)

// TestRecipientPartsReadsWhatIsAsked: RecipientParts answers each part
// asked for as Recipient does, and false for the others, for consumers
// with and without each record (blocked, marketing stopped, window open or
// expired).
func TestRecipientPartsReadsWhatIsAsked(t *testing.T) {
	f := openFSM(t)
	a := &applier{t: t, f: f}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	const at = 1700000100000
	refs := make([]string, 8)
	for i := range refs {
		refs[i] = fmt.Sprintf("%032x", i)
		if i&1 != 0 {
			a.mustApply(cmd(t, CmdPutPhoneSetting, PutPhoneSetting{PhoneNumberID: "3001", BusinessID: "1001",
				Name: BlockSettingPrefix + refs[i], Value: []byte("{}")}))
		}
		if i&2 != 0 {
			a.mustApply(cmd(t, CmdSetUserPreference, SetUserPreference{PhoneNumberID: "3001", PeerRef: refs[i], Stop: true, At: at}))
		}
		if i&4 != 0 {
			// The consumer wrote: the window opens (and, for odd i, has
			// expired at the time asked).
			received := int64(at - 1000)
			if i&1 != 0 {
				received = at - WindowMillis - 1
			}
			a.mustApply(cmd(t, CmdRecordInbound, RecordInbound{Key: []byte(fmt.Sprintf("inbound-key-%04d", i)),
				IDRef: MessageIDRef(fmt.Sprint("in", i)), PhoneNumberID: "3001", PeerRef: refs[i], Type: "text", ReceivedAt: received}))
		}
	}
	for i, ref := range refs {
		all := f.Recipient("3001", ref, at)
		if want := (RecipientState{Blocked: i&1 != 0, MarketingStopped: i&2 != 0, WindowOpen: i&4 != 0 && i&1 == 0}); all != want {
			t.Fatalf("consumer %d: %+v, want %+v", i, all, want)
		}
		for parts := RecipientPart(0); parts <= RecipientAll; parts++ {
			want := RecipientState{
				Blocked:          parts&RecipientBlocked != 0 && all.Blocked,
				MarketingStopped: parts&RecipientMarketingStopped != 0 && all.MarketingStopped,
				WindowOpen:       parts&RecipientWindow != 0 && all.WindowOpen,
			}
			if got := f.RecipientParts("3001", ref, at, parts); got != want {
				t.Fatalf("consumer %d, parts %03b: %+v, want %+v", i, parts, got, want)
			}
		}
	}
}
