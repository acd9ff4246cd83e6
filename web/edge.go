package web

import (
	"bytes"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits of the HTTP server itself, before any route runs.
const (
	// maxHeaderBytes bounds the request line and headers together; a
	// longer head is answered 431 (fasthttp reads it into a buffer of this
	// size, per connection).
	maxHeaderBytes = 8 << 10
	// headerTimeout is how long a connection may take to send a request's
	// head (and, on a kept-alive connection, once it started a request).
	headerTimeout = 10 * time.Second
	// bodyTimeout is how long a request's body may take once its head
	// arrived; uploadTimeout the same for a media upload (up to 100 MB).
	bodyTimeout   = 60 * time.Second
	uploadTimeout = 10 * time.Minute
	// writeTimeout bounds writing one response.
	writeTimeout = 60 * time.Second
	// downloadWriteTimeout bounds writing a media download (up to 100 MB).
	downloadWriteTimeout = 10 * time.Minute
	// idleTimeout closes a kept-alive connection with no next request.
	idleTimeout = 60 * time.Second
)

// configureServer sets what Fiber's Config does not expose: a request's
// head must arrive within headerTimeout, its body then gets bodyTimeout
// (a media upload uploadTimeout), and a media download gets a longer
// write deadline. A caller that is not admitted gets no use of the longer
// deadlines: its body is drained for at most drainTimeout.
func configureServer(s *fasthttp.Server) {
	download := []byte(mediaDownloadPath)
	s.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		rc := fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
		uri := h.RequestURI()
		switch {
		case bytes.HasPrefix(uri, download):
			rc.WriteTimeout = downloadWriteTimeout
		case h.IsPost() && isUploadURI(uri):
			rc.ReadTimeout = uploadTimeout
		}
		return rc
	}
}

// isUploadURI reports whether a request URI (version prefix and query
// included) names the media upload.
func isUploadURI(uri []byte) bool {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if n := versionPrefix(uri); n > 0 {
		uri = uri[n:]
		if len(uri) == 0 {
			return false
		}
	}
	return mayBeUpload(uri) && mediaUploadPath.Match(uri)
}

// publicBase normalises Deps.PublicURL: no trailing slash, a default when
// empty. main validates the flag.
func publicBase(u string) string {
	if u == "" {
		return "http://localhost"
	}
	return strings.TrimRight(u, "/")
}
