// Package cloudapi is the wire layer of the WhatsApp Cloud API: request and
// response types, strict decoding and validation with the platform's error
// codes, message ids, and the one codec for stored message content. It has
// no storage and no HTTP server; the web layer and the domain packages use
// it so that every route rejects bad input the same way.
package cloudapi

import "github.com/waedge/waedge/graph"

// Cloud API errors beyond graph's generic ones.
var (
	// ErrReEngagement: more than 24 hours since the customer last wrote (131047).
	ErrReEngagement = &graph.Error{Status: 400, Code: 131047, Title: "Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
	// ErrRecipientIsSender: the recipient is the sending number itself (131021).
	ErrRecipientIsSender = &graph.Error{Status: 400, Code: 131021, Title: "Recipient cannot be sender"}
	// ErrUnsupportedType: unknown message type (131051... answered as 100 on send).
	ErrUnsupportedType = graph.ErrInvalidParameter
)

func missing(field string) error {
	return graph.ErrMissingParameter.Withf("%s is required", field)
}

func invalid(format string, args ...any) error {
	return graph.ErrParameterValue.Withf(format, args...)
}

func badParam(format string, args ...any) error {
	return graph.ErrInvalidParameter.Withf(format, args...)
}
