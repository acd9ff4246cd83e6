package cloudapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestOutboundContentRoundTrip(t *testing.T) {
	for name, body := range valid {
		r, err := ParseSend([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if r.IsMarkRead() {
			continue
		}
		c, err := EncodeContent(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if IsInboundContent(c) {
			t.Errorf("%s: outbound content reads as inbound", name)
		}
		back, err := DecodeContent(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Raw parts (action parameters, carousel cards) come back compacted,
		// so compare the encoded forms.
		if g, w := mustJSON(t, back), mustJSON(t, r.MessageContent()); g != w {
			t.Errorf("%s: round trip\n got %s\nwant %s", name, g, w)
		}
		if back.To != "" || back.BizOpaqueCallbackData != "" || back.RecipientIdentityKeyHash != "" {
			t.Errorf("%s: routing data stored: %+v", name, back)
		}
		if _, err := DecodeInboundContent(c); !errors.Is(err, ErrBadContent) {
			t.Errorf("%s: outbound content decoded as inbound (%v)", name, err)
		}
	}
}

func TestInboundContentRoundTrip(t *testing.T) {
	for name, m := range inboundSamples() {
		c, err := EncodeInboundContent(&m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !IsInboundContent(c) {
			t.Errorf("%s: not marked inbound", name)
		}
		back, err := DecodeInboundContent(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(back, m.MessageContent()) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, back, m.MessageContent())
		}
		if back.From != "" || back.ID != "" || back.Timestamp != "" || back.Type != m.Type {
			t.Errorf("%s: metadata stored or type lost: %+v", name, back)
		}
		if _, err := DecodeContent(c); !errors.Is(err, ErrBadContent) {
			t.Errorf("%s: inbound content decoded as outbound (%v)", name, err)
		}
	}
}

func TestDecodeContentRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":        nil,
		"kind only":    {1},
		"unknown kind": []byte("\x09{}"),
		"bad json":     []byte("\x01{"),
		"json array":   []byte("\x01[]"),
	} {
		if _, err := DecodeContent(b); !errors.Is(err, ErrBadContent) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeContent(f *testing.F) {
	r, _ := ParseSend([]byte(valid["template"]))
	c, _ := EncodeContent(r)
	f.Add(c)
	m := TextMessage("15551234567", "wamid.X", 1, "hi")
	c, _ = EncodeInboundContent(&m)
	f.Add(c)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeContent(b); err == nil {
			if _, err := EncodeContent(r); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := DecodeInboundContent(b); err == nil {
			if _, err := EncodeInboundContent(m); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
