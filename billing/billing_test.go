package billing

import (
	"bytes"
	"errors"
	"testing"

	"github.com/waedge/waedge/raftfsm"
)

func TestParseRates(t *testing.T) {
	r, err := ParseRates([]byte(`{"currency":"EUR","marketing":0.05,"utility":0.1,"authentication":0.000001}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Currency != "EUR" || r.Micros["marketing"] != 50000 || r.Micros["utility"] != 100000 || r.Micros["authentication"] != 1 {
		t.Fatalf("%+v", r)
	}
	b, _ := r.MarshalJSON()
	if string(b) != `{"currency":"EUR","marketing":0.05,"utility":0.1,"authentication":0.000001}` {
		t.Fatalf("%s", b)
	}
	if back, err := DecodeRates(b); err != nil || back.Micros["marketing"] != 50000 {
		t.Fatalf("round trip %+v %v", back, err)
	}
	for _, bad := range []string{`{"marketing":-1}`, `{"promo":1}`, `{"currency":"usd"}`, `{"marketing":"x"}`, `[1]`, `{"utility":1e9}`} {
		if _, err := ParseRates([]byte(bad)); !errors.Is(err, ErrInvalidRates) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestComputeAndCSV(t *testing.T) {
	rows := []raftfsm.StatRow{
		{PhoneNumberID: "p1", Day: "2026-03-01", Direction: "out", Type: "template", Status: "delivered", Category: "marketing", Count: 3},
		{PhoneNumberID: "p2", Day: "2026-03-31", Direction: "out", Type: "template", Status: "delivered", Category: "marketing", Count: 4},
		{PhoneNumberID: "p1", Day: "2026-03-02", Direction: "out", Type: "template", Status: "delivered", Category: "utility", Count: 10},
		{PhoneNumberID: "p1", Day: "2026-03-02", Direction: "out", Type: "template", Status: "read", Category: "utility", Count: 9},        // read: already in delivered
		{PhoneNumberID: "p1", Day: "2026-03-02", Direction: "out", Type: "template", Status: "sent", Category: "marketing", Count: 50},     // not delivered
		{PhoneNumberID: "p1", Day: "2026-03-02", Direction: "out", Type: "text", Status: "delivered", Category: "service", Count: 70},      // not a template
		{PhoneNumberID: "p1", Day: "2026-04-01", Direction: "out", Type: "template", Status: "delivered", Category: "marketing", Count: 5}, // other month
		{PhoneNumberID: "p9", Day: "2026-03-01", Direction: "out", Type: "template", Status: "delivered", Category: "marketing", Count: 6}, // other business
	}
	r, _ := ParseRates([]byte(`{"marketing":0.1,"utility":0.01}`))
	rep := Compute(rows, map[string]string{"p1": "b1", "p2": "b1"}, "2026-03", r)
	if len(rep.Lines) != 2 || rep.Lines[0].Category != "marketing" || rep.Lines[0].Delivered != 7 || rep.Lines[0].Amount != "0.7" ||
		rep.Lines[1].Delivered != 10 || rep.Lines[1].Amount != "0.1" || rep.Total != "0.8" || rep.Currency != "USD" {
		t.Fatalf("%+v", rep)
	}
	var b bytes.Buffer
	if err := rep.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "business,month,category,delivered,rate,amount,currency\nb1,2026-03,marketing,7,0.1,0.7,USD\nb1,2026-03,utility,10,0.01,0.1,USD\n"
	if b.String() != want {
		t.Fatalf("csv:\n%s", b.String())
	}
	if !ValidMonth("2026-12") || ValidMonth("2026-13") || ValidMonth("26-01") {
		t.Fatal("ValidMonth")
	}
}
