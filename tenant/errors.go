package tenant

import "errors"

// Errors returned by Create, IssueToken, RevokeToken and Authenticate.
var (
	// ErrInvalid means the request's name or phone number is not acceptable;
	// the wrapped text says which and is safe to show to the caller.
	ErrInvalid = errors.New("invalid tenant request")
	// ErrPhoneTaken means the phone number is already registered.
	ErrPhoneTaken = errors.New("phone number already registered")
	// ErrUnauthenticated means the bearer token is missing or unknown.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotFound means the business or token does not exist (or belongs
	// to another business).
	ErrNotFound = errors.New("not found")
)
