package cloudapi

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// metaSample is the id decoded in docs/cloud-api.md §2.6.
const metaSample = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"

func TestWAMIDMetaSample(t *testing.T) {
	wa, me, key, err := ParseWAMID(metaSample)
	if err != nil || wa != "16503879439" || !me || key != "CB6B39DAA892A118E5" {
		t.Fatalf("sample: %q %v %q %v", wa, me, key, err)
	}
	var k [9]byte
	if _, err := hex.Decode(k[:], []byte(key)); err != nil {
		t.Fatal(err)
	}
	if id := NewWAMID(wa, me, k); id != metaSample {
		t.Fatalf("re-encoded %s, want %s", id, metaSample)
	}
}

func TestWAMIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		waID   string
		fromMe bool
		key    [9]byte
	}{
		{"15551234567", true, [9]byte{0xCB, 0x6B, 0x39, 0xDA, 0xA8, 0x92, 0xA1, 0x18, 0xE5}},
		{"4915112345678", false, [9]byte{1}},
		{"12345678", true, [9]byte{}},
		{strings.Repeat("9", 200), false, [9]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, // two-byte length varint
	} {
		id := NewWAMID(tc.waID, tc.fromMe, tc.key)
		if !strings.HasPrefix(id, "wamid.") {
			t.Fatalf("id %s", id)
		}
		wa, me, key, err := ParseWAMID(id)
		if err != nil || wa != tc.waID || me != tc.fromMe || key != strings.ToUpper(hex.EncodeToString(tc.key[:])) {
			t.Errorf("%s: got %q %v %q %v", id, wa, me, key, err)
		}
		if len(key) != 18 {
			t.Errorf("key %q is not 18 hex characters", key)
		}
	}
}

// wamidOf hand-assembles a compact-protocol id, independent of NewWAMID.
func wamidOf(b ...[]byte) string {
	var all []byte
	for _, p := range b {
		all = append(all, p...)
	}
	return "wamid." + base64.StdEncoding.EncodeToString(all)
}

func lp(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func TestWAMIDShapes(t *testing.T) {
	waID := lp("15551234567")
	inner := append(append([]byte{0x1c, 0x18}, waID...), 0x15, 0x02, 0x00)
	for _, tc := range []struct {
		name   string
		id     string
		fromMe bool
		key    string
	}{
		{"inbound 20-char key", wamidOf(inner, []byte{0x12, 0x18}, lp("3EB0C767D89B09A35B21"), []byte{0}), false, "3EB0C767D89B09A35B21"},
		{"extra trailing field", wamidOf(inner, []byte{0x11, 0x18}, lp("ABCDEF"), []byte{0x18}, lp("extra"), []byte{0x15, 0x04, 0}), true, "ABCDEF"},
		{"long-form field header", wamidOf(inner, []byte{0x01, 0x04, 0x18}, lp("K1"), []byte{0}), true, "K1"},
		{"unpadded base64", strings.TrimRight(wamidOf(inner, []byte{0x11, 0x18}, lp("AB"), []byte{0}), "="), true, "AB"},
		{"extra inner field", wamidOf([]byte{0x1c, 0x18}, waID, []byte{0x15, 0x02, 0x18}, lp("zz"), []byte{0x00, 0x11, 0x18}, lp("KK"), []byte{0}), true, "KK"},
	} {
		wa, me, key, err := ParseWAMID(tc.id)
		if err != nil || wa != "15551234567" || me != tc.fromMe || key != tc.key {
			t.Errorf("%s (%s): %q %v %q %v", tc.name, tc.id, wa, me, key, err)
		}
	}
}

func TestWAMIDRejects(t *testing.T) {
	inner := append(append([]byte{0x1c, 0x18}, lp("15551234567")...), 0x15, 0x02, 0x00)
	sampleBytes, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(metaSample, "wamid."))
	for name, id := range map[string]string{
		"empty":      "",
		"prefix":     "wamid.",
		"no prefix":  strings.TrimPrefix(metaSample, "wamid."),
		"not base64": "wamid.!!!",
		"garbage":    "wamid.AAAA",
		"truncated":  wamidOf(sampleBytes[:len(sampleBytes)-3]),
		"trailing":   wamidOf(sampleBytes, []byte{0}),
		// docs/cloud-api.md §2.5's constructed id declares an 18-byte key but holds 17.
		"bad length prefix": "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTdGM0E4QjFDMkQzRTRGNQA=",
		"no from-me":        wamidOf(inner, []byte{0x28}, lp("KEY"), []byte{0}),
		"no key":            wamidOf(inner, []byte{0x11, 0x00}),
		"empty wa_id":       wamidOf([]byte{0x1c, 0x18, 0x00, 0x00, 0x11, 0x18}, lp("K"), []byte{0}),
		"list type":         wamidOf(inner, []byte{0x11, 0x19, 0x00, 0x00}),
		"deep nesting":      wamidOf([]byte(strings.Repeat("\x4c", 10))),
		"huge length":       wamidOf([]byte{0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x0f}),
		"too long":          "wamid." + strings.Repeat("A", 1000),
	} {
		if wa, _, _, err := ParseWAMID(id); !errors.Is(err, ErrBadWAMID) {
			t.Errorf("%s: accepted (%q, %v)", name, wa, err)
		}
	}
}

func FuzzParseWAMID(f *testing.F) {
	f.Add(metaSample)
	f.Add("wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTdGM0E4QjFDMkQzRTRGNQA=")
	f.Add("wamid.HBgLMTY1")
	f.Add(NewWAMID("4915112345678", false, [9]byte{1, 2, 3}))
	f.Add("wamid.TExMTExMTExMTExM")
	f.Fuzz(func(t *testing.T, s string) {
		wa, _, key, err := ParseWAMID(s)
		if err != nil {
			if !errors.Is(err, ErrBadWAMID) {
				t.Fatalf("error %v does not wrap ErrBadWAMID", err)
			}
			return
		}
		if wa == "" || key == "" {
			t.Fatalf("accepted with empty part: %q %q", wa, key)
		}
	})
}

func FuzzWAMIDRoundTrip(f *testing.F) {
	f.Add("16503879439", true, []byte{0xCB, 0x6B, 0x39})
	f.Add("x", false, []byte{})
	f.Fuzz(func(t *testing.T, waID string, fromMe bool, k []byte) {
		if waID == "" {
			return
		}
		var key [9]byte
		copy(key[:], k)
		id := NewWAMID(waID, fromMe, key)
		wa, me, kk, err := ParseWAMID(id)
		if len(id)-len("wamid.") > maxWAMID {
			if err == nil {
				t.Fatal("over-long id accepted")
			}
			return
		}
		if err != nil || wa != waID || me != fromMe || kk != strings.ToUpper(hex.EncodeToString(key[:])) {
			t.Fatalf("%q %v %x → %q %v %q %v", waID, fromMe, key, wa, me, kk, err)
		}
	})
}
