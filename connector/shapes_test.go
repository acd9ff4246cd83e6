package connector

import (
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// TestBillingCategory: a template's status webhook is priced in the
// template's own category (the one billing and stats count), not always
// utility; free-form replies are service.
func TestBillingCategory(t *testing.T) {
	now := time.Unix(1_767_225_600, 0)
	for _, tc := range []struct {
		typ, stored, want string
		billable          bool
	}{
		{"template", "marketing", "marketing", true},
		{"template", "authentication", "authentication", true},
		{"template", "utility", "utility", true},
		{"template", "", "utility", true}, // records from before categories were stored
		{"text", "service", "service", false},
	} {
		b := billing("3", "ref", tc.typ, tc.stored, now)
		if b.Category != tc.want || b.Origin != tc.want || b.Billable != tc.billable {
			t.Errorf("%s/%q: category %q origin %q billable %v, want %q", tc.typ, tc.stored, b.Category, b.Origin, b.Billable, tc.want)
		}
	}
}

// TestCarouselToPhone: an interactive carousel reaches the sandbox phone
// as a valid prompt with the first card's quick replies as buttons (a
// carousel of links as one "Open" button), so the phone can answer.
func TestCarouselToPhone(t *testing.T) {
	card := func(i int, action string) string {
		return `{"card_index":` + string(rune('0'+i)) + `,"header":{"type":"image","image":{"link":"https://x.com/a.jpg"}},"action":` + action + `}`
	}
	quick := `{"buttons":[{"type":"quick_reply","quick_reply":{"id":"more","title":"Learn more"}},{"type":"quick_reply","quick_reply":{"id":"fav","title":"Favourite"}}]}`
	link := `{"name":"cta_url","parameters":{"display_text":"Buy","url":"https://x.com/buy"}}`
	for _, tc := range []struct {
		action string
		want   []string
	}{{quick, []string{"more", "fav"}}, {link, []string{"carousel"}}} {
		r, err := cloudapi.ParseSend([]byte(`{"messaging_product":"whatsapp","to":"15551234567","type":"interactive","interactive":{"type":"carousel",
			"body":{"text":"Our picks"},"action":{"cards":[` + card(0, tc.action) + `,` + card(1, tc.action) + `]}}}`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := toNetwork("m1", r)
		if err != nil {
			t.Fatalf("carousel not deliverable: %v", err)
		}
		var ids []string
		for _, b := range c.Interactive.Buttons {
			ids = append(ids, b.ID)
		}
		if c.Interactive.Body != "Our picks" || strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Fatalf("phone sees %+v", c.Interactive)
		}
	}
}
