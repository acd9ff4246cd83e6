package messages

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// TestParseMarketingCap: the serve flag's forms, and what is refused.
func TestParseMarketingCap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want MarketingCap
		err  bool
	}{
		{in: "", want: MarketingCap{}},
		{in: "off", want: MarketingCap{}},
		{in: "OFF", want: MarketingCap{}},
		{in: "0", want: MarketingCap{}},
		{in: "2/24h", want: MarketingCap{Limit: 2, Window: 24 * time.Hour}},
		{in: " 1/720h ", want: MarketingCap{Limit: 1, Window: 720 * time.Hour}},
		{in: "1000/1m", want: MarketingCap{Limit: 1000, Window: time.Minute}},
		{in: "2", err: true},
		{in: "2/", err: true},
		{in: "x/24h", err: true},
		{in: "2/721h", err: true},
		{in: "2/59s", err: true},
		{in: "-1/24h", err: true},
		{in: "1001/24h", err: true},
	} {
		got, err := ParseMarketingCap(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseMarketingCap(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if tc.err && !errors.Is(err, ErrBadMarketingCap) {
			t.Errorf("ParseMarketingCap(%q): %v, want ErrBadMarketingCap", tc.in, err)
		}
		if !tc.err && got.On() {
			if back, err := ParseMarketingCap(got.String()); err != nil || back != got {
				t.Errorf("%+v does not read back from %q: %+v %v", got, got.String(), back, err)
			}
		}
	}
	for _, m := range []MarketingCap{{}, {Limit: 3, Window: 90 * time.Minute}, {Limit: 0, Window: time.Hour}} {
		got, ok := DecodeMarketingCap(EncodeMarketingCap(m))
		if !ok || got.Limit != m.Limit || (m.Limit > 0 && got.Window != m.Window) {
			t.Errorf("round trip of %+v: %+v %v", m, got, ok)
		}
	}
	if _, ok := DecodeMarketingCap(NoMarketingCap); ok {
		t.Error("NoMarketingCap decodes as a policy")
	}
}

// TestMarketingCapDefault: the node's default applies to a business
// without its own policy: the send over it is accepted and stored failed
// (131049, nothing is refused), a business's own policy replaces the
// default, and dropping it restores the default.
func TestMarketingCapDefault(t *testing.T) {
	svc, d, _, tn := fixture(t)
	svc.d.MarketingCap = MarketingCap{Limit: 1, Window: time.Hour}
	ctx := context.Background()
	d.MustPropose(t, raftfsm.CmdRegisterPhone, raftfsm.RegisterPhone{PhoneNumberID: "3001", BusinessID: "1001", Register: true, At: 2})
	d.MustPropose(t, raftfsm.CmdCreateTemplate, raftfsm.CreateTemplate{Template: raftfsm.Template{ID: "78", WABAID: "2001", BusinessID: "1001",
		Name: "promo", Language: "en", Category: "MARKETING", Status: "APPROVED", Components: []byte(`[{"type":"BODY","text":"Sale"}]`), CreatedAt: 1}})
	d.MustPropose(t, raftfsm.CmdSetTemplateStatus, raftfsm.SetTemplateStatus{ID: "78", Status: "APPROVED", At: 2})
	promo, err := cloudapi.ParseSend([]byte(`{"messaging_product":"whatsapp","to":"+` + consumer + `","type":"template","template":{"name":"promo","language":{"code":"en"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	status := func(what string, want string) {
		t.Helper()
		wamid, err := svc.Send(ctx, Send{Tenant: tn, Request: promo})
		if err != nil {
			t.Fatalf("%s: %v, want accepted", what, err)
		}
		if m, err := d.FSM().MessageByID(wamid); err != nil || m.Status != want {
			t.Fatalf("%s: stored %+v, %v; want %s", what, m, err, want)
		}
	}
	status("first under the default", raftfsm.StatusAccepted)
	status("second under the default (1 per hour)", raftfsm.StatusFailed)
	d.MustPropose(t, raftfsm.CmdPutClusterValue, raftfsm.PutClusterValue{Key: MarketingCapKey("1001"), Value: EncodeMarketingCap(MarketingCap{Limit: 2, Window: time.Hour})})
	status("under the business's own policy (2 per hour)", raftfsm.StatusAccepted)
	status("over the business's own policy", raftfsm.StatusFailed)
	d.MustPropose(t, raftfsm.CmdPutClusterValue, raftfsm.PutClusterValue{Key: MarketingCapKey("1001"), Value: NoMarketingCap})
	status("back to the default", raftfsm.StatusFailed)
}
