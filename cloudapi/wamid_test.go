package cloudapi

import "testing"

func TestWAMID(t *testing.T) {
	// Meta's published sample decodes to 16503879439, from-me, CB6B39DAA892A118E5.
	wa, me, key, err := ParseWAMID("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA")
	if err != nil || wa != "16503879439" || !me || key != "CB6B39DAA892A118E5" {
		t.Fatalf("sample: %q %v %q %v", wa, me, key, err)
	}
	id := NewWAMID("16503879439", true, [9]byte{0xCB, 0x6B, 0x39, 0xDA, 0xA8, 0x92, 0xA1, 0x18, 0xE5})
	if id != "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA" {
		t.Fatalf("built %s", id)
	}
	wa, me, _, err = ParseWAMID(NewWAMID("4915112345678", false, [9]byte{1}))
	if err != nil || wa != "4915112345678" || me {
		t.Fatalf("round trip: %q %v %v", wa, me, err)
	}
	for _, bad := range []string{"", "wamid.", "wamid.!!!", "HBgL", "wamid.AAAA"} {
		if _, _, _, err := ParseWAMID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseWAMID(f *testing.F) {
	f.Add("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA")
	f.Add("wamid.HBgLMTY1")
	f.Fuzz(func(t *testing.T, s string) {
		wa, me, key, err := ParseWAMID(s)
		if err != nil {
			return
		}
		_ = wa + key
		_ = me
	})
}
