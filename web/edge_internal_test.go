package web

import "testing"

// TestIsUploadURI: the longer body deadline goes to the media upload only,
// versioned or not, with or without a query.
func TestIsUploadURI(t *testing.T) {
	for uri, want := range map[string]bool{
		"/123/media":                      true,
		"/v21.0/123/media":                true,
		"/v21.0/123/media/?x=1":           true,
		"/123/media?messaging_product=wa": true,
		"/v21.0":                          false,
		"/v21.0/123/messages":             false,
		"/123/media/extra":                false,
		"/admin/v1/tenants":               false,
		"/v21.0123/media":                 false,
	} {
		if got := isUploadURI([]byte(uri)); got != want {
			t.Errorf("isUploadURI(%q) = %v, want %v", uri, got, want)
		}
	}
}
