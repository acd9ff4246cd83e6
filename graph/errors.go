// Package graph is the Graph API error vocabulary that waedge speaks to
// businesses: every rejection a client sees is a *graph.Error rendered as
// Meta's error envelope. Keeping the codes and their HTTP statuses in one
// place means the web layer has exactly one way to fail.
package graph

import (
	"errors"
	"fmt"
)

// Error is one Graph API error. It renders as
//
//	{"error":{"message":"(#code) title","type":"OAuthException","code":code,
//	          "error_data":{"messaging_product":"whatsapp","details":details},
//	          "fbtrace_id":"..."}}
type Error struct {
	// Status is the HTTP status code of the response.
	Status int
	// Code is the Graph error code (error.code).
	Code int
	// Title is the short, public title; message becomes "(#Code) Title".
	Title string
	// Details is the actionable public text (error.error_data.details).
	Details string
	// Type is error.type; empty means "OAuthException".
	Type string
}

// Error implements error with the public message only.
func (e *Error) Error() string {
	if e.Details != "" {
		return fmt.Sprintf("(#%d) %s: %s", e.Code, e.Title, e.Details)
	}
	return fmt.Sprintf("(#%d) %s", e.Code, e.Title)
}

// Message is the Graph "message" field: "(#code) title".
func (e *Error) Message() string { return fmt.Sprintf("(#%d) %s", e.Code, e.Title) }

// TypeName is the Graph "type" field.
func (e *Error) TypeName() string {
	if e.Type == "" {
		return "OAuthException"
	}
	return e.Type
}

// With returns a copy of e carrying the given details text.
func (e *Error) With(details string) *Error {
	c := *e
	c.Details = details
	return &c
}

// Withf returns a copy of e with details formatted from format and args.
func (e *Error) Withf(format string, args ...any) *Error {
	return e.With(fmt.Sprintf(format, args...))
}

// Is makes errors.Is match on the code, so a copy made by With still
// matches the template it came from.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// As extracts a *Error from err, or returns nil.
func As(err error) *Error {
	var g *Error
	if errors.As(err, &g) {
		return g
	}
	return nil
}

// Well-known errors (templates: use With to add details).
var (
	// ErrAuth: the access token is missing, malformed or unknown (code 190, 401).
	ErrAuth = &Error{Status: 401, Code: 190, Title: "Invalid OAuth access token - Cannot parse access token"}
	// ErrUnknown: invalid request or unknown path (code 1, 400).
	ErrUnknown = &Error{Status: 400, Code: 1, Title: "An unknown error occurred"}
	// ErrServiceUnavailable: temporary overload or no cluster leader (code 2, 503).
	ErrServiceUnavailable = &Error{Status: 503, Code: 2, Title: "Service temporarily unavailable"}
	// ErrPermission: the caller may not do this (code 10, 403).
	ErrPermission = &Error{Status: 403, Code: 10, Title: "Application does not have permission for this action"}
	// ErrInvalidParameter: unknown or malformed field (code 100, 400).
	ErrInvalidParameter = &Error{Status: 400, Code: 100, Title: "Invalid parameter"}
	// ErrObjectNotFound: an id that does not exist, or that belongs to
	// another business — the two answer identically (code 100, 400).
	ErrObjectNotFound = &Error{Status: 400, Code: 100, Title: "Unsupported get request. Object does not exist, cannot be loaded due to missing permissions, or does not support this operation", Type: "GraphMethodException"}
	// ErrInternal: something went wrong (code 131000, 500). Never carries
	// internal error text.
	ErrInternal = &Error{Status: 500, Code: 131000, Title: "Something went wrong"}
	// ErrServiceUnavailable131016: service unavailable, retry (code 131016, 500).
	ErrServiceUnavailable131016 = &Error{Status: 500, Code: 131016, Title: "Service unavailable"}
	// ErrMissingParameter: a required parameter is absent (code 131008, 400).
	ErrMissingParameter = &Error{Status: 400, Code: 131008, Title: "Required parameter is missing"}
	// ErrParameterValue: a parameter value is not valid (code 131009, 400).
	ErrParameterValue = &Error{Status: 400, Code: 131009, Title: "Parameter value is not valid"}
	// ErrRateLimit: the per-number throughput was reached (code 130429, 400).
	ErrRateLimit = &Error{Status: 400, Code: 130429, Title: "Rate limit hit"}
	// ErrTooManyCalls: application request limit reached (code 4, 400).
	ErrTooManyCalls = &Error{Status: 400, Code: 4, Title: "Application request limit reached"}
)
