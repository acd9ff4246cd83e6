package connector

import (
	"testing"
	"time"
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
