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
	// arrived.
	bodyTimeout = 60 * time.Second
	// writeTimeout bounds writing one response.
	writeTimeout = 60 * time.Second
	// downloadWriteTimeout bounds writing a media download (up to 100 MB).
	downloadWriteTimeout = 10 * time.Minute
	// idleTimeout closes a kept-alive connection with no next request.
	idleTimeout = 60 * time.Second
)

// configureServer sets what Fiber's Config does not expose: a request's
// head must arrive within headerTimeout, its body then gets bodyTimeout,
// and a media download gets a longer write deadline.
func configureServer(s *fasthttp.Server) {
	download := []byte(mediaDownloadPath)
	s.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		rc := fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
		if bytes.HasPrefix(h.RequestURI(), download) {
			rc.WriteTimeout = downloadWriteTimeout
		}
		return rc
	}
}

// publicBase normalises Deps.PublicURL: no trailing slash, a default when
// empty. main validates the flag.
func publicBase(u string) string {
	if u == "" {
		return "http://localhost"
	}
	return strings.TrimRight(u, "/")
}
