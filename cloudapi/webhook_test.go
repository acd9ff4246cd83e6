package cloudapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestMarshalASCIIAndSignature(t *testing.T) {
	text := "Olá ção 👍 中文 <b>&"
	n := InboundTextNotification("1001", Metadata{DisplayPhoneNumber: "15550001000", PhoneNumberID: "3001"},
		"15551234567", "Zoë", "wamid.X", 1749416383, text)
	body, err := MarshalASCII(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range body {
		if c >= 0x80 {
			t.Fatalf("non-ASCII byte in %s", body)
		}
	}
	if !json.Valid(body) {
		t.Fatalf("invalid JSON %s", body)
	}
	// The emoji is a surrogate pair, lowercase hex, as Python's ensure_ascii writes it.
	if want := `\ud83d\udc4d`; !strings.Contains(string(body), want) {
		t.Fatalf("emoji not escaped as %s: %s", want, body)
	}
	var back struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Contacts []struct {
						Profile struct{ Name string }
					}
					Messages []struct {
						Timestamp string
						Text      struct{ Body string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	v := back.Entry[0].Changes[0].Value
	if v.Messages[0].Text.Body != text || v.Contacts[0].Profile.Name != "Zoë" || v.Messages[0].Timestamp != "1749416383" {
		t.Fatalf("round trip: %+v", v)
	}
	// Independent HMAC over the exact bytes.
	m := hmac.New(sha256.New, []byte("app-secret"))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign("app-secret", body); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if !VerifySignature("app-secret", body, want) || VerifySignature("other", body, want) ||
		VerifySignature("app-secret", append(body, ' '), want) {
		t.Fatal("verification")
	}
}

func TestChallengeURL(t *testing.T) {
	u, err := ChallengeURL("https://example.com/hook?x=1", "tok en", "123")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	q := p.Query()
	if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != "tok en" || q.Get("hub.challenge") != "123" || q.Get("x") != "1" {
		t.Fatalf("url %s", u)
	}
	if _, err := ChallengeURL("ftp://x", "t", "c"); err == nil {
		t.Fatal("ftp accepted")
	}
}
