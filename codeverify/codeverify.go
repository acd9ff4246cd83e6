// Package codeverify is the use case behind POST /{phone-number-id}/request_code
// and /verify_code: the verification state of a business phone number, and
// the rules that move it (code lifetime, request rate, wrong attempts).
//
// It is pure: the caller reads the stored State, applies Request or Verify
// with its own clock and randomness, and replicates the result. Meta's
// reference names the codes: 136024 "Request code error"
// (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/request_code/)
// and 136025 "Verify code error"
// (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/verify_code/).
// Meta publishes no numbers for code lifetime, request rate or attempts;
// the ones here are waedge's (docs/cloud-api.md §11.3).
package codeverify

import (
	"crypto/subtle"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/waedge/waedge/graph"
)

// Rules of the sandbox's verification codes.
const (
	// CodeTTL is how long a requested code can be verified.
	CodeTTL = 10 * time.Minute
	// RequestInterval is the least time between two requests of a number.
	RequestInterval = time.Minute
	// MaxRequestsPerDay bounds requests of a number in any 24 hours.
	MaxRequestsPerDay = 10
	// MaxAttempts is how many wrong codes void a code.
	MaxAttempts = 5
	// CodeDigits is the length of a code.
	CodeDigits = 6
)

// Statuses shown as the phone number's code_verification_status.
const (
	StatusVerified    = "VERIFIED"
	StatusNotVerified = "NOT_VERIFIED"
	StatusExpired     = "EXPIRED"
)

var (
	// ErrRequestCode is Meta's 136024.
	ErrRequestCode = &graph.Error{Status: 400, Code: 136024, Title: "Request code error"}
	// ErrVerifyCode is Meta's 136025.
	ErrVerifyCode = &graph.Error{Status: 400, Code: 136025, Title: "Verify code error"}
)

// State is a number's verification state, kept as a phone setting. The
// zero State is a number that was verified when it was created and never
// asked for a new code.
type State struct {
	// Pending is true from a request until the code is verified.
	Pending bool `json:"pending,omitempty"`
	// Code is the current code ("" once voided by wrong attempts).
	Code      string `json:"code,omitempty"`
	Method    string `json:"code_method,omitempty"`
	Language  string `json:"language,omitempty"`
	IssuedAt  int64  `json:"issued_at,omitempty"`  // unix ms
	ExpiresAt int64  `json:"expires_at,omitempty"` // unix ms
	Attempts  int    `json:"attempts,omitempty"`
	// Requests are the times (unix ms) of the requests of the last 24 hours.
	Requests   []int64 `json:"requests,omitempty"`
	VerifiedAt int64   `json:"verified_at,omitempty"` // unix ms
}

// Status is the code_verification_status of a number in state s at now.
func (s State) Status(now time.Time) string {
	switch {
	case !s.Pending:
		return StatusVerified
	case s.Code != "" && now.UnixMilli() >= s.ExpiresAt:
		return StatusExpired
	default:
		return StatusNotVerified
	}
}

// Live reports whether s has a code that can still be verified at now.
func (s State) Live(now time.Time) bool {
	return s.Pending && s.Code != "" && now.UnixMilli() < s.ExpiresAt
}

var languageRe = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)

// Request checks a request_code call (code_method, language) against s at
// now and returns the next state with the new code. code is the caller's
// fresh random code of CodeDigits digits.
func Request(s State, method, language, code string, now time.Time) (State, error) {
	method = strings.ToUpper(method)
	switch {
	case method == "":
		return s, graph.ErrInvalidParameter.With("code_method is required (SMS or VOICE)")
	case method != "SMS" && method != "VOICE":
		return s, graph.ErrInvalidParameter.With("code_method must be SMS or VOICE")
	case language == "":
		return s, graph.ErrInvalidParameter.With("language is required, e.g. en_US")
	case !languageRe.MatchString(language):
		return s, graph.ErrInvalidParameter.With("language must be a locale such as en or en_US")
	}
	nowMs := now.UnixMilli()
	recent := make([]int64, 0, len(s.Requests)+1)
	for _, t := range s.Requests {
		if nowMs-t < (24 * time.Hour).Milliseconds() {
			recent = append(recent, t)
		}
	}
	if n := len(recent); n > 0 && nowMs-recent[n-1] < RequestInterval.Milliseconds() {
		wait := (RequestInterval.Milliseconds() - (nowMs - recent[n-1]) + 999) / 1000
		return s, ErrRequestCode.Withf("a code was requested less than a minute ago; request again in %d seconds", wait)
	}
	if len(recent) >= MaxRequestsPerDay {
		return s, ErrRequestCode.Withf("this number has requested %d codes in 24 hours; try again later", MaxRequestsPerDay)
	}
	return State{Pending: true, Code: code, Method: method, Language: language, IssuedAt: nowMs,
		ExpiresAt: nowMs + CodeTTL.Milliseconds(), Requests: append(recent, nowMs), VerifiedAt: s.VerifiedAt}, nil
}

// Verify checks a verify_code call against s at now. It returns the next
// state (also on a wrong code: the attempt is counted and must be stored)
// and an error for a missing, expired, voided or wrong code.
func Verify(s State, code string, now time.Time) (State, error) {
	code = strings.TrimSpace(code)
	switch {
	case code == "":
		return s, graph.ErrInvalidParameter.With("code is required")
	case !s.Pending:
		return s, ErrVerifyCode.With("no verification code was requested for this number; call request_code first")
	case s.Code == "":
		return s, ErrVerifyCode.With("too many wrong codes; request a new code")
	case now.UnixMilli() >= s.ExpiresAt:
		return s, ErrVerifyCode.With("the verification code has expired; request a new code")
	}
	if subtle.ConstantTimeCompare([]byte(code), []byte(s.Code)) != 1 {
		s.Attempts++
		if s.Attempts >= MaxAttempts {
			s.Code = ""
			return s, ErrVerifyCode.Withf("the code is wrong; after %d wrong codes this code is void, request a new one", MaxAttempts)
		}
		return s, ErrVerifyCode.Withf("the code is wrong (%d of %d attempts left)", MaxAttempts-s.Attempts, MaxAttempts)
	}
	return State{VerifiedAt: now.UnixMilli(), Requests: s.Requests}, nil
}

// NewCode formats random bytes as a code of CodeDigits decimal digits.
func NewCode(random [8]byte) string {
	var n uint64
	for _, b := range random {
		n = n<<8 | uint64(b)
	}
	return fmt.Sprintf("%0*d", CodeDigits, n%1_000_000)
}
