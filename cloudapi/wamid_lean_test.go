package cloudapi

import (
	"encoding/base64"
	"strings"
	"testing"
)

// newWAMIDDefinition is NewWAMIDWithKeyID as written before stop 24.
func newWAMIDDefinition(waID string, fromMe bool, key string) string {
	b := make([]byte, 0, 16+len(waID)+len(key))
	b = append(b, 1<<4|ctStruct, 1<<4|ctBinary)
	b = appendVarint(b, uint64(len(waID)))
	b = append(b, waID...)
	b = append(b, 1<<4|ctI32, 0x02, ctStop)
	if fromMe {
		b = append(b, 1<<4|ctTrue)
	} else {
		b = append(b, 1<<4|ctFalse)
	}
	b = append(b, 1<<4|ctBinary)
	b = appendVarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, ctStop)
	return wamidPrefix + base64.StdEncoding.EncodeToString(b)
}

func TestNewWAMIDWithKeyIDMatchesDefinition(t *testing.T) {
	for _, waID := range []string{"", "1", "491700000042", strings.Repeat("9", 15), strings.Repeat("7", 200)} {
		for _, key := range []string{"", "ABC", strings.Repeat("0F", 25), strings.Repeat("Z", 127), strings.Repeat("Y", 300)} {
			for _, fromMe := range []bool{true, false} {
				got, want := NewWAMIDWithKeyID(waID, fromMe, key), newWAMIDDefinition(waID, fromMe, key)
				if got != want {
					t.Fatalf("NewWAMIDWithKeyID(%q, %v, %q) = %q, want %q", waID, fromMe, key, got, want)
				}
				if w, f, k, err := ParseWAMID(got); waID != "" && key != "" && len(got)-len(wamidPrefix) <= maxWAMID && (err != nil || w != waID || f != fromMe || k != key) {
					t.Fatalf("ParseWAMID(%q) = %q %v %q %v", got, w, f, k, err)
				}
			}
		}
	}
	key := strings.Repeat("0F", 25)
	if n := testing.AllocsPerRun(100, func() { _ = NewWAMIDWithKeyID("491700000042", true, key) }); n != 1 {
		t.Errorf("a send's wamid: %v allocations, want 1", n)
	}
}
