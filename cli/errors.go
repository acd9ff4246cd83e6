package cli

import "errors"

// ErrServer means the server answered with an error; the wrapped text is
// the Graph error message and details from the response envelope.
var ErrServer = errors.New("server refused the request")
