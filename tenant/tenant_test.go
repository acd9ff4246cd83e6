package tenant

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, phone string
		ok          bool
	}{
		{"Acme", "+15551234567", true},
		{"Acme", "+4930123456", true},
		{"", "+15551234567", false},
		{"  ", "+15551234567", false},
		{strings.Repeat("x", 257), "+15551234567", false},
		{"Acme", "15551234567", false},
		{"Acme", "+1555", false},
		{"Acme", "+1555123456789012", false},
		{"Acme", "+1555-123-4567", false},
		{"Acme", "+05551234567", false},
	} {
		err := CreateRequest{Name: tc.name, Phone: tc.phone}.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%q %q: %v", tc.name, tc.phone, err)
		}
	}
}

func TestAccessTokenShape(t *testing.T) {
	a, ha, err := NewAccessToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := NewAccessToken()
	if !strings.HasPrefix(a, "EAAW") || len(a) < 40 || a == b || ha == hb {
		t.Fatalf("tokens %q %q", a, b)
	}
	if _, err := Authenticate(nil, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatal("empty token accepted")
	}
}
