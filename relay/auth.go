package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay/relayclient"
)

// TokenFileName is the file under the relay's data dir that holds the bearer token of its HTTP API
// (hosted phones). It is created at first start, mode 0600.
const TokenFileName = "relay.token"

// authKind says how a route authenticates its caller.
type authKind int

const (
	// authToken: the relay's bearer token (the hosted-phone API: it reads and writes phones' plaintext).
	authToken authKind = iota
	// authDevice: a device proves, per request, that it holds the identity key of a number it has
	// logged in on a live WebSocket connection (blob upload and download).
	authDevice
	// authPublic: no credential. Only the WebSocket (which authenticates each number by its identity
	// key inside the protocol) and the health check.
	authPublic
)

// route is one HTTP route of the relay. Every route is registered from routeList, through guard.
type route struct {
	pattern string
	auth    authKind
	handler http.HandlerFunc
}

// routeList is the relay's whole HTTP surface.
func (r *Relay) routeList() []route {
	return []route{
		{"GET /v1/ws", authPublic, r.handleWS},
		{"GET /healthz", authPublic, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}},
		{"PUT /sandbox/blobs", authDevice, r.handlePutBlob},
		{"GET /sandbox/blobs/{id}", authDevice, r.handleGetBlob},
		{"POST /sandbox/phones", authToken, r.apiCreatePhone},
		{"GET /sandbox/phones", authToken, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"phones": r.Phones()})
		}},
		{"POST /sandbox/phones/{n}/send", authToken, r.apiSend},
		{"GET /sandbox/phones/{n}/inbox", authToken, r.apiList((*phone.Phone).Inbox, true)},
		{"GET /sandbox/phones/{n}/sent", authToken, r.apiList((*phone.Phone).Sent, false)},
		{"GET /sandbox/phones/{n}/media/{id}", authToken, r.apiMedia},
		{"POST /sandbox/phones/{n}/read", authToken, r.apiRead},
		{"POST /sandbox/phones/{n}/typing", authToken, r.apiTyping},
		{"POST /sandbox/phones/{n}/report-spam", authToken, r.apiReport((*phone.Phone).ReportSpam)},
		{"POST /sandbox/phones/{n}/block", authToken, r.apiReport((*phone.Phone).Block)},
		{"POST /sandbox/phones/{n}/unblock", authToken, r.apiReport((*phone.Phone).Unblock)},
		{"POST /sandbox/phones/{n}/stop-marketing", authToken, r.apiReport((*phone.Phone).StopMarketing)},
		{"POST /sandbox/phones/{n}/resume-marketing", authToken, r.apiReport((*phone.Phone).ResumeMarketing)},
	}
}

func (r *Relay) routes() {
	m := http.NewServeMux()
	for _, rt := range r.routeList() {
		m.Handle(rt.pattern, r.guard(rt))
	}
	r.mux = m
}

// guard checks the route's credential from the headers before the handler (and so before any body
// is read); a refused request gets 401 and nothing is done.
func (r *Relay) guard(rt route) http.Handler {
	switch rt.auth {
	case authPublic:
		return rt.handler
	case authDevice:
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !r.deviceProven(req) {
				httpError(w, http.StatusUnauthorized, "a logged-in device's proof is required")
				return
			}
			rt.handler(w, req)
		})
	default:
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !r.tokenValid(req) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="waedge-relay"`)
				httpError(w, http.StatusUnauthorized, "missing or wrong relay token (see "+TokenFileName+" in the relay's data dir)")
				return
			}
			rt.handler(w, req)
		})
	}
}

// tokenValid compares the SHA-256 of the presented bearer token with the stored one in constant
// time (hashing first makes the comparison independent of the presented length too).
func (r *Relay) tokenValid(req *http.Request) bool {
	h := req.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], r.tokenHash[:]) == 1
}

// deviceProven checks the blob headers of relayclient: a number that is online on some connection and
// a signature of BlobProofMessage(that connection's nonce, number) by the number's identity key. The
// proof dies with the connection.
func (r *Relay) deviceProven(req *http.Request) bool {
	number := req.Header.Get(relayclient.HeaderNumber)
	sig, err := base64.StdEncoding.DecodeString(req.Header.Get(relayclient.HeaderProof))
	if err != nil || !network.ValidNumber(number) || len(sig) != network.SignatureLen {
		return false
	}
	s := r.hub.owner(number)
	if s == nil {
		return false
	}
	d, err := r.st.device(number)
	if err != nil || d == nil {
		return false
	}
	return verify(d.IdentityKey, relayclient.BlobProofMessage(s.nonce, number), sig)
}

// loadOrCreateToken returns the SHA-256 of the token in path, creating the file (0600, 32 random
// bytes as hex) when it does not exist. A token file others can read is refused.
func loadOrCreateToken(path string) ([32]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return [32]byte{}, fmt.Errorf("relay token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, werr := f.WriteString(hex.EncodeToString(raw) + "\n")
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return [32]byte{}, fmt.Errorf("write relay token: %w", werr)
		}
		_ = syncDir(filepath.Dir(path))
	case !errors.Is(err, fs.ErrExist):
		return [32]byte{}, fmt.Errorf("create relay token: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("relay token: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return [32]byte{}, fmt.Errorf("relay token %s has mode %o; it must be readable by its owner only (chmod 600): %w",
			path, info.Mode().Perm(), ErrConfig)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("read relay token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return [32]byte{}, fmt.Errorf("relay token %s is shorter than 32 characters: %w", path, ErrConfig)
	}
	return sha256.Sum256([]byte(tok)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
