package cloudapi

import (
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString keeps the hand-written string encoder of the fast
// paths byte for byte equal to encoding/json (HTML-safe escaping, invalid
// UTF-8 as \ufffd, U+2028/U+2029 escaped).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain text", `quote " back \ slash`, "<a href='x'>&amp;</a>",
		"tab\tnl\ncr\r\b\f\x00\x1f\x7f", "héllo 😀 \u2028\u2029", "bad \xff\xfe utf8 \xe2\x82", "waedge bench message "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
