package pki

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	ca := mustCA(t, time.Now())
	tok, err := NewJoinToken(ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "wjt1.") || len(s) != 5+96 {
		t.Fatalf("token %d characters", len(s))
	}
	if len(tok.ID) != 16 || tok.CAFingerprint != ca.Fingerprint() || tok.Secret == [32]byte{} {
		t.Fatalf("token fields: id %q", tok.ID)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[5:])
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(raw[:8]) != tok.ID || !bytes.Equal(raw[8:40], tok.CAFingerprint[:]) || !bytes.Equal(raw[40:], tok.Secret[:]) {
		t.Fatal("layout is not id || fingerprint || secret")
	}
	for _, in := range []string{s, " " + s + "\n", "\t" + s + "\r\n"} {
		back, err := ParseJoinToken(in)
		if err != nil || back != tok {
			t.Fatalf("round trip of %q: %+v, %v", in, back, err)
		}
	}
	if tok.SecretHash() != sha256.Sum256(tok.Secret[:]) {
		t.Fatal("SecretHash is not sha256(secret)")
	}
	tok2, _ := NewJoinToken(ca.Fingerprint())
	if tok2.ID == tok.ID || tok2.Secret == tok.Secret {
		t.Fatal("two tokens share an id or secret")
	}
}

func TestParseJoinTokenRefuses(t *testing.T) {
	tok, err := NewJoinToken([32]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	body := s[5:]
	std := base64.RawStdEncoding.EncodeToString(mustDecode(t, body))
	tests := map[string]string{
		"empty":                      "",
		"prefix only":                "wjt1.",
		"wrong prefix":               "wjt2." + body,
		"upper-case prefix":          "WJT1." + body,
		"no prefix":                  body,
		"truncated":                  s[:len(s)-4],
		"one char short":             s[:len(s)-1],
		"longer":                     s + "AAAA",
		"padded":                     s + "==",
		"bad base64":                 s[:20] + "!!" + s[22:],
		"std alphabet":               "wjt1." + forceStd(std),
		"inner newline":              s[:50] + "\n" + s[50:len(s)-1],
		"inner newline, full length": s[:50] + "\n" + s[50:],
		"inner space":                s[:50] + " " + s[51:],
		"nul byte":                   s[:50] + "\x00" + s[51:],
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := ParseJoinToken(in); !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("got %+v, %v", got.ID, err)
			}
		})
	}
	// A token with an ID that is not 16 hex digits does not encode to
	// something that parses.
	for _, id := range []string{"", "xyz", "0011", strings.Repeat("0", 18)} {
		bad := tok
		bad.ID = id
		if _, err := ParseJoinToken(bad.String()); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("token with id %q: %v", id, err)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forceStd makes sure an encoding contains a standard-alphabet character
// ('+' or '/'), which the URL alphabet lacks.
func forceStd(s string) string {
	if strings.ContainsAny(s, "+/") {
		return s
	}
	return "+" + s[1:]
}

func TestJoinTokenLogValueHidesSecret(t *testing.T) {
	tok, _ := NewJoinToken([32]byte{9})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("minted", slog.Any("token", tok))
	out := buf.String()
	if !strings.Contains(out, tok.ID) || strings.Contains(out, tok.String()[5:20]) ||
		strings.Contains(out, hex.EncodeToString(tok.Secret[:4])) {
		t.Fatalf("log line: %s", out)
	}
}

func FuzzParseJoinToken(f *testing.F) {
	tok, err := NewJoinToken([32]byte{0xfe, 0xed})
	if err != nil {
		f.Fatal(err)
	}
	s := tok.String()
	for _, seed := range []string{s, " " + s + "\n", "wjt1.", s[:len(s)-1], s + "A", "wjt1." + strings.Repeat("_", 96),
		"wjt1." + strings.Repeat("=", 96), strings.Repeat("A", 101), s[:40] + "\n" + s[41:]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tk, err := ParseJoinToken(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("error %v does not wrap ErrMalformedToken", err)
			}
			return
		}
		// Accepted tokens are canonical: re-encoding gives back the input.
		if out := tk.String(); out != strings.TrimSpace(in) {
			t.Fatalf("accepted %q but encodes as %q", in, out)
		}
		if back, err := ParseJoinToken(tk.String()); err != nil || back != tk {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
