package web

import (
	"math/rand"
	"regexp"
	"testing"
)

// versionRegexp is what versionPrefix implements by hand.
var versionRegexp = regexp.MustCompile(`^/v[0-9]{1,3}\.[0-9]{1,3}(/|$)`)

// TestPathMatchersAgreeWithTheRegexps: versionPrefix finds exactly the
// prefix the regular expression matches, and mayBeUpload never turns away
// a path the media-upload expression matches, over listed and random
// paths.
func TestPathMatchersAgreeWithTheRegexps(t *testing.T) {
	paths := []string{"", "/", "/v", "/v1", "/v1.", "/v1.0", "/v1.0/", "/v21.0/123/messages", "/v123.456/x",
		"/v1234.0/x", "/v1.1234/x", "/v1.0x", "/V1.0/x", "/vv1.0", "/v.0/", "/v1./", "/v21.0?x", "/123/media", "/123/MEDIA/",
		"/v21.0/123/media", "/upload:abc", "/UPLOAD:x", "/123/media/x", "/123/messages", "/upload:", "/media"}
	rnd := rand.New(rand.NewSource(1))
	const alphabet = "/v0123456789.:mediaMEDIAupload?x"
	for range 20000 {
		b := make([]byte, rnd.Intn(14))
		for i := range b {
			b[i] = alphabet[rnd.Intn(len(alphabet))]
		}
		paths = append(paths, string(b), "/v"+string(b), "/upload"+string(b))
	}
	for _, p := range paths {
		want := 0
		if loc := versionRegexp.FindStringIndex(p); loc != nil {
			want = loc[1]
			if p[want-1] == '/' {
				want-- // versionPrefix leaves the slash
			}
		}
		if got := versionPrefix(p); got != want {
			t.Fatalf("versionPrefix(%q) = %d, the regexp says %d", p, got, want)
		}
		if got := versionPrefix([]byte(p)); got != want {
			t.Fatalf("versionPrefix([]byte %q) = %d, want %d", p, got, want)
		}
		if mediaUploadPath.MatchString(p) && (!mayBeUpload(p) || !mayBeUpload([]byte(p))) {
			t.Fatalf("mayBeUpload(%q) is false for an upload path", p)
		}
	}
}
