package cloudapi

import "testing"

// TestProtocolWordIsTheText: every word comes back as its own text, the
// protocol's words without an allocation.
func TestProtocolWordIsTheText(t *testing.T) {
	known := []string{"whatsapp", "individual", "template", "text", "body", "header", "button", "image", "document",
		"video", "currency", "date_time", "payload", "quick_reply", "url", "read", "en", "en_US", "en_GB", "de", "es",
		"fr", "pt_BR"}
	for _, w := range known {
		raw := []byte(w)
		if got := protocolWord(raw); got != w {
			t.Errorf("protocolWord(%q) = %q", w, got)
		}
		if n := testing.AllocsPerRun(10, func() { _ = protocolWord(raw) }); n != 0 {
			t.Errorf("protocolWord(%q): %v allocations", w, n)
		}
	}
	for _, w := range []string{"", "Text", "whatsap", "491700000042", "bench_message", "en_us", "wamid.x"} {
		raw := []byte(w)
		got := protocolWord(raw)
		if got != w {
			t.Errorf("protocolWord(%q) = %q", w, got)
		}
		if len(raw) > 0 {
			raw[0] ^= 0xff // a copy: the input's later change does not show
			if got != w {
				t.Errorf("protocolWord(%q) aliases its input", w)
			}
		}
	}
}
