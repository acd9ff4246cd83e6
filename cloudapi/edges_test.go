package cloudapi

import (
	"strings"
	"testing"
)

func TestEdgeBodies(t *testing.T) {
	cmds := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, `{"command_name":"c`+string(rune('a'+i%26))+strings.Repeat("x", i/26)+`","command_description":"d"}`)
		}
		return `{"commands":[` + strings.Join(b, ",") + `]}`
	}
	automation := func(body string) error { _, err := ParseConversationalAutomation([]byte(body), nil); return err }
	for _, tc := range []struct {
		name string
		err  error
		want
	}{
		{"automation empty", automation(`{}`), want{131008, "enable_welcome_message, prompts or commands"}},
		{"five ice breakers", automation(`{"prompts":["a","b","c","d","e"]}`), want{131009, "at most 4 ice breakers"}},
		{"long ice breaker", automation(`{"prompts":["` + rep("x", 81) + `"]}`), want{131009, "prompts[0] must be at most 80"}},
		{"blank ice breaker", automation(`{"prompts":[" "]}`), want{131008, "prompts[0] is required"}},
		{"31 commands", automation(cmds(31)), want{131009, "at most 30 commands"}},
		{"command slash", automation(`{"commands":[{"command_name":"/help","command_description":"d"}]}`), want{131009, "no spaces or slashes"}},
		{"command twice", automation(`{"commands":[{"command_name":"a","command_description":"d"},{"command_name":"a","command_description":"e"}]}`), want{131009, "must be unique"}},
		{"command description", automation(`{"commands":[{"command_name":"a"}]}`), want{131008, "commands[0].command_description is required"}},
		{"command name length", automation(`{"commands":[{"command_name":"` + rep("x", 33) + `","command_description":"d"}]}`), want{131009, "at most 32"}},
		{"automation unknown key", automation(`{"welcome":true}`), want{100, `Unexpected key "welcome"`}},
		{"commerce empty", func() error { _, err := ParseCommerceSettings([]byte(`{}`), nil); return err }(), want{131008, "is_cart_enabled or is_catalog_visible"}},
		{"commerce string", func() error { _, err := ParseCommerceSettings([]byte(`{"is_cart_enabled":"yes"}`), nil); return err }(), want{100, "is_cart_enabled must be a boolean"}},
		{"qr no message", func() error { _, err := ParseQRCode([]byte(`{"generate_qr_image":"SVG"}`)); return err }(), want{131008, "prefilled_message is required"}},
		{"qr long message", func() error {
			_, err := ParseQRCode([]byte(`{"prefilled_message":"` + rep("x", 141) + `"}`))
			return err
		}(), want{131009, "at most 140"}},
		{"qr image format", func() error {
			_, err := ParseQRCode([]byte(`{"prefilled_message":"x","generate_qr_image":"GIF"}`))
			return err
		}(), want{131009, "SVG or PNG"}},
		{"qr code shape", func() error { _, err := ParseQRCode([]byte(`{"prefilled_message":"x","code":"abc"}`)); return err }(), want{131009, "code is not a QR code"}},
		{"settings empty", func() error { _, err := ParseNumberSettings([]byte(`{}`), nil); return err }(), want{131008, "calling, storage_configuration"}},
		{"settings not object", func() error { _, err := ParseNumberSettings([]byte(`{"calling":"on"}`), nil); return err }(), want{100, "calling must be an object"}},
		{"settings unknown", func() error { _, err := ParseNumberSettings([]byte(`{"payments":{}}`), nil); return err }(), want{100, `Unexpected key "payments"`}},
	} {
		checkErr(t, tc.name, tc.err, tc.want)
	}
	// An edit replaces what it gives and keeps the rest.
	on := true
	cur := &ConversationalAutomation{EnableWelcomeMessage: &on, Prompts: &[]string{"Book"}}
	next, err := ParseConversationalAutomation([]byte(`{"commands":[{"command_name":"help","command_description":"Get help"}]}`), cur)
	if err != nil || !*next.EnableWelcomeMessage || len(*next.Prompts) != 1 || len(*next.Commands) != 1 {
		t.Fatalf("merge: %+v %v", next, err)
	}
	if _, err := ParseConversationalAutomation([]byte(cmds(30)), nil); err != nil {
		t.Fatalf("30 commands: %v", err)
	}
	cs, err := ParseCommerceSettings([]byte(`{"is_catalog_visible":true}`), nil)
	if err != nil || *cs.IsCartEnabled || !*cs.IsCatalogVisible {
		t.Fatalf("commerce: %+v %v", cs, err)
	}
}
