package codeverify

import (
	"errors"
	"testing"
	"time"

	"github.com/waedge/waedge/graph"
)

func code(err error) int {
	var g *graph.Error
	if errors.As(err, &g) {
		return g.Code
	}
	return 0
}

// TestRequestRules: parameters, the one-minute interval and the daily cap.
func TestRequestRules(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		method, lang string
		want         int
	}{
		{"", "en_US", 100}, {"EMAIL", "en_US", 100}, {"SMS", "", 100}, {"SMS", "english", 100},
		{"SMS", "en_us", 100}, {"sms", "en_US", 0}, {"VOICE", "de", 0}, {"SMS", "pt_BR", 0},
	} {
		s, err := Request(State{}, c.method, c.lang, "123456", t0)
		if code(err) != c.want {
			t.Errorf("%q %q: %v, want code %d", c.method, c.lang, err, c.want)
		}
		if c.want != 0 && s.Pending {
			t.Errorf("%q %q: a refused request changed the state", c.method, c.lang)
		}
	}
	s, err := Request(State{}, "SMS", "en_US", "111111", t0)
	if err != nil || s.Status(t0) != StatusNotVerified || !s.Live(t0) {
		t.Fatalf("first request: %+v %v", s, err)
	}
	if _, err := Request(s, "SMS", "en_US", "222222", t0.Add(59*time.Second)); code(err) != 136024 {
		t.Fatalf("second request within a minute: %v", err)
	}
	at := t0
	for i := 1; i < MaxRequestsPerDay; i++ {
		at = at.Add(RequestInterval)
		if s, err = Request(s, "SMS", "en_US", "222222", at); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	if _, err := Request(s, "SMS", "en_US", "333333", at.Add(RequestInterval)); code(err) != 136024 {
		t.Fatalf("request %d in a day: %v", MaxRequestsPerDay+1, err)
	}
	if _, err := Request(s, "SMS", "en_US", "333333", t0.Add(24*time.Hour)); err != nil {
		t.Fatalf("a day after the first request: %v", err)
	}
	if s.Status(at.Add(CodeTTL)) != StatusExpired || s.Live(at.Add(CodeTTL)) {
		t.Fatalf("status after the code's lifetime: %s", s.Status(at.Add(CodeTTL)))
	}
}

// TestVerifyRules: wrong codes count and void the code, expiry, success.
func TestVerifyRules(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	if _, err := Verify(State{}, "123456", t0); code(err) != 136025 {
		t.Fatalf("verify without a request: %v", err)
	}
	s, _ := Request(State{}, "SMS", "en_US", "123456", t0)
	if _, err := Verify(s, "", t0); code(err) != 100 {
		t.Fatalf("empty code: %v", err)
	}
	if _, err := Verify(s, "123456", t0.Add(CodeTTL)); code(err) != 136025 {
		t.Fatalf("expired code: %v", err)
	}
	w := s
	for i := 1; i <= MaxAttempts; i++ {
		var err error
		if w, err = Verify(w, "000000", t0); code(err) != 136025 || w.Attempts != i {
			t.Fatalf("wrong code %d: %v %+v", i, err, w)
		}
	}
	if _, err := Verify(w, "123456", t0); code(err) != 136025 {
		t.Fatalf("the right code after %d wrong ones: %v", MaxAttempts, err)
	}
	v, err := Verify(s, " 123456 ", t0.Add(time.Minute))
	if err != nil || v.Status(t0) != StatusVerified || v.Pending || v.Code != "" {
		t.Fatalf("right code: %+v %v", v, err)
	}
	if _, err := Verify(v, "123456", t0.Add(time.Minute)); code(err) != 136025 {
		t.Fatalf("a code used twice: %v", err)
	}
	if _, err := Request(v, "SMS", "en_US", "654321", t0.Add(30*time.Second)); code(err) != 136024 {
		t.Fatalf("the interval survives verification: %v", err)
	}
}

func TestNewCode(t *testing.T) {
	if c := NewCode([8]byte{}); c != "000000" {
		t.Fatal(c)
	}
	if c := NewCode([8]byte{0, 0, 0, 0, 0, 0x0f, 0x42, 0x3f}); c != "999999" {
		t.Fatal(c)
	}
}
