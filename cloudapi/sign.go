package cloudapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MarshalASCII encodes v as compact JSON with every non-ASCII character
// escaped as \uXXXX (lowercase hex, UTF-16 surrogate pairs beyond the BMP)
// and without HTML escaping: the bytes Meta signs, and the bytes a receiver
// gets back when it re-serialises with ensure_ascii / escapeUnicode.
func MarshalASCII(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal webhook: %w", err)
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	extra := 0
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			extra += 4 // each non-ASCII byte grows the output by at most 4
		}
	}
	if extra == 0 {
		return bytes.Clone(raw), nil
	}
	out := make([]byte, 0, len(raw)+extra)
	for len(raw) > 0 {
		c := raw[0]
		if c < utf8.RuneSelf {
			out = append(out, c)
			raw = raw[1:]
			continue
		}
		r, size := utf8.DecodeRune(raw) // invalid bytes become U+FFFD
		raw = raw[size:]
		if r >= 0x10000 {
			r -= 0x10000
			out = appendU(appendU(out, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
		} else {
			out = appendU(out, r)
		}
	}
	return out, nil
}

// appendU appends \uXXXX in lowercase hex.
func appendU(b []byte, r rune) []byte {
	const hexdigits = "0123456789abcdef"
	return append(b, '\\', 'u', hexdigits[r>>12&0xf], hexdigits[r>>8&0xf], hexdigits[r>>4&0xf], hexdigits[r&0xf])
}

// SignaturePrefix starts the X-Hub-Signature-256 header value.
const SignaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 header value for body:
// "sha256=" + lowercase hex HMAC-SHA256 keyed with the app secret.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return SignaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-Hub-Signature-256 header against body in
// constant time (hex digits of either case are accepted).
func VerifySignature(appSecret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, SignaturePrefix)
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return hmac.Equal(m.Sum(nil), sum)
}

// VerifyChallenge answers the subscription handshake a receiver performs
// (docs/cloud-api.md §6.1): it returns the hub.challenge to echo when hub.mode
// is "subscribe" and hub.verify_token equals verifyToken (compared in
// constant time). An empty verifyToken never matches.
func VerifyChallenge(query url.Values, verifyToken string) (challenge string, ok bool) {
	if verifyToken == "" || query.Get("hub.mode") != "subscribe" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(query.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	challenge = query.Get("hub.challenge")
	return challenge, challenge != ""
}

// ChallengeURL is the GET waedge sends to a receiver's callback to verify a
// subscription: the callback with hub.mode=subscribe, hub.verify_token and
// hub.challenge added to its query.
func ChallengeURL(callback, verifyToken, challenge string) (string, error) {
	u, err := url.Parse(callback)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", ErrBadCallback
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", verifyToken)
	q.Set("hub.challenge", challenge)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
