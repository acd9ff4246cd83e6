package messages

import (
	"testing"

	"github.com/waedge/waedge/raftfsm"
)

// TestRecipientPartsDecideAsTheWholeState: for every request type, stored
// type, number quality, template category and recipient state, the parts
// a send reads (recipientParts) lead to the decisions the whole state
// leads to — checkRecipient's refusal and failure, and whether a message
// that needs the window finds it closed — so reading less changes no
// answer.
func TestRecipientPartsDecideAsTheWholeState(t *testing.T) {
	types := []struct{ req, stored string }{{"template", "template"}, {"text", "text"}, {"", "text"}, {"image", "image"}, {"reaction", "reaction"}}
	qualities := []string{"", raftfsm.QualityGreen, raftfsm.QualityRed}
	categories := []string{"", raftfsm.CategoryMarketing, raftfsm.CategoryUtility, raftfsm.CategoryAuthentication, raftfsm.CategoryService}
	for _, typ := range types {
		for _, q := range qualities {
			for _, cat := range categories {
				phone := raftfsm.Phone{ID: "3001", QualityRating: q}
				parts := recipientParts(phone, typ.req, typ.stored, cat)
				for bits := range 8 {
					full := raftfsm.RecipientState{Blocked: bits&1 != 0, MarketingStopped: bits&2 != 0, WindowOpen: bits&4 != 0}
					read := raftfsm.RecipientState{
						Blocked:          parts&raftfsm.RecipientBlocked != 0 && full.Blocked,
						MarketingStopped: parts&raftfsm.RecipientMarketingStopped != 0 && full.MarketingStopped,
						WindowOpen:       parts&raftfsm.RecipientWindow != 0 && full.WindowOpen,
					}
					r1, f1 := checkRecipient(phone, full, typ.req, cat)
					r2, f2 := checkRecipient(phone, read, typ.req, cat)
					needsWindow := typ.stored != "template"
					if r1 != r2 || f1 != f2 || needsWindow && full.WindowOpen != read.WindowOpen {
						t.Fatalf("type %q/%q, quality %q, category %q, state %+v: read %+v decides %v/%v, whole %v/%v",
							typ.req, typ.stored, q, cat, full, read, r2, f2, r1, f1)
					}
				}
			}
		}
	}
	// What the bench sends (a utility template to a green number) reads
	// one key.
	if p := recipientParts(raftfsm.Phone{}, "template", "template", raftfsm.CategoryUtility); p != raftfsm.RecipientBlocked {
		t.Fatalf("utility template reads %03b, want the block list only", p)
	}
}
