// Package cloudapi is the wire layer of the WhatsApp Cloud API: request and
// response types, strict decoding and validation with the platform's error
// codes, message ids, the one codec for stored message content, webhook
// envelopes and signatures, Graph cursor paging and the platform's rules as
// pure functions. It has no storage and no HTTP server; the web layer and
// the domain packages use it so that every route rejects bad input the same
// way and every webhook has Meta's shape.
package cloudapi

import (
	"errors"

	"github.com/waedge/waedge/graph"
)

// Cloud API errors beyond graph's generic ones. They are templates: add the
// request-specific text with With or Withf.
var (
	// ErrReEngagement: more than 24 hours since the customer last wrote and
	// the message is not a template (131047, 400).
	ErrReEngagement = &graph.Error{Status: 400, Code: 131047, Title: "Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
	// ErrMessagingLimit: a business-initiated message to one more distinct
	// consumer than the number's messaging-limit tier allows per rolling
	// 24 hours (131064 "messaging limit", docs/cloud-api.md §1.4 notes; HTTP
	// 400 like the neighbouring limit codes 131048/131056).
	ErrMessagingLimit = &graph.Error{Status: 400, Code: 131064, Title: "Messaging limit reached",
		Details: "Message failed to send because this phone number reached its messaging limit: the maximum number of distinct customers it may start conversations with in a rolling 24-hour period."}
	// ErrRecipientIsSender: the recipient is the sending number itself (131021, 400).
	ErrRecipientIsSender = &graph.Error{Status: 400, Code: 131021, Title: "Recipient cannot be sender",
		Details: "Sender and recipient phone number is the same."}
	// ErrThroughput: the phone number's messages-per-second limit was
	// reached (130429, 400).
	ErrThroughput = &graph.Error{Status: 400, Code: 130429, Title: "Rate limit hit",
		Details: "Cloud API message throughput has been reached for this phone number."}
	// ErrPairRateLimit: too many messages from one business number to one
	// consumer in a short time (131056, 400); other recipients are unaffected.
	ErrPairRateLimit = &graph.Error{Status: 400, Code: 131056, Title: "(Business Account, Consumer Account) pair rate limit hit",
		Details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."}
	// ErrUnsupportedMessage: a message type the platform cannot handle
	// (131051, 400); also carried by inbound "unsupported" messages.
	ErrUnsupportedMessage = &graph.Error{Status: 400, Code: 131051, Title: "Unsupported message type",
		Details: "Message type is currently not supported."}
	// ErrUndeliverable: the recipient cannot be reached (131026; sent
	// asynchronously as a failed status).
	ErrUndeliverable = &graph.Error{Status: 400, Code: 131026, Title: "Message undeliverable",
		Details: "The recipient is not reachable on the network (not registered, or has blocked this number)."}
	// ErrSomethingWrong is the generic failure of an accepted message.
	ErrSomethingWrong = &graph.Error{Status: 500, Code: 131000, Title: "Something went wrong",
		Details: "The message could not be prepared for delivery."}
	// ErrMediaUpload: outbound media could not be fetched or processed
	// (131053, 400).
	ErrMediaUpload = &graph.Error{Status: 400, Code: 131053, Title: "Media upload error"}
	// ErrTemplateParams: the parameters do not match the template (132000, 400).
	ErrTemplateParams = &graph.Error{Status: 400, Code: 132000, Title: "Number of parameters does not match the expected number of params"}
	// ErrTemplateMissing: no approved template with this name and language
	// (132001, 404).
	ErrTemplateMissing = &graph.Error{Status: 404, Code: 132001, Title: "Template name does not exist in the translation"}
	// ErrTemplatePaused: the template is paused for low quality (132015,
	// 400; https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
	ErrTemplatePaused = &graph.Error{Status: 400, Code: 132015, Title: "Template is Paused",
		Details: "Template is paused due to low quality so it cannot be sent in a template message."}
	// ErrTemplateDisabled: the template is disabled for low quality (132016, 400).
	ErrTemplateDisabled = &graph.Error{Status: 400, Code: 132016, Title: "Template is Disabled",
		Details: "Template has been paused too many times due to low quality and is now permanently disabled."}
	// ErrNotRegistered: the sending phone number is not registered (133010, 400).
	ErrNotRegistered = &graph.Error{Status: 400, Code: 133010, Title: "Account not registered",
		Details: "The phone number is not registered on the WhatsApp Business Platform; call /register first."}
	// ErrRegisterRateLimit: too many register/deregister calls for one
	// number (133016, 400).
	ErrRegisterRateLimit = &graph.Error{Status: 400, Code: 133016, Title: "Account register deregister rate limit exceeded",
		Details: "Registration or deregistration failed because there were too many attempts for this phone number in a short period of time."}
	// ErrIdentityKeyMismatch: recipient_identity_key_hash no longer matches
	// the consumer's identity (137000, 400).
	ErrIdentityKeyMismatch = &graph.Error{Status: 400, Code: 137000, Title: "Identity key mismatch",
		Details: "The recipient's identity key hash does not match recipient_identity_key_hash."}
	// ErrWABARateLimit: too many management calls on one business account
	// (80007, 400).
	ErrWABARateLimit = &graph.Error{Status: 400, Code: 80007, Title: "Rate limit issues",
		Details: "The WhatsApp Business Account has reached its rate limit."}
	// ErrRecipientBlocked: the business blocked the recipient with
	// /{phone-number-id}/block_users. Meta says only that sending to a
	// blocked user "returns an error"
	// (https://developers.facebook.com/docs/whatsapp/cloud-api/block-users);
	// waedge answers at once with 131026, Meta's code for a recipient that
	// cannot be messaged.
	ErrRecipientBlocked = &graph.Error{Status: 400, Code: 131026, Title: "Message undeliverable",
		Details: "The recipient is on this phone number's block list; unblock the user to message them."}
	// ErrSpamRateLimit: the number is restricted because too many of its
	// messages were blocked or reported as spam (131048, 400). waedge
	// raises it for business-initiated sends while the number's quality
	// rating is RED
	// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
	ErrSpamRateLimit = &graph.Error{Status: 400, Code: 131048, Title: "Spam rate limit hit",
		Details: "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam."}
	// ErrMarketingOptedOut: a marketing template to a user who stopped
	// marketing messages from the business (131050, 400; the stop is
	// reported by the user_preferences webhook).
	ErrMarketingOptedOut = &graph.Error{Status: 400, Code: 131050, Title: "Unable to deliver the marketing message",
		Details: "The user has stopped marketing messages from this business."}
	// ErrMarketingCapped: a marketing template over the operator's
	// per-consumer cap of marketing messages (131049, 400, reported by
	// status webhook). Meta raises it "to maintain healthy ecosystem
	// engagement" without publishing its limit; waedge only under a
	// policy its operator set (messages.MarketingCap).
	ErrMarketingCapped = &graph.Error{Status: 400, Code: 131049, Title: "This message was not delivered to maintain healthy ecosystem engagement.",
		Details: "The user has received as many marketing messages from this business as the platform allows in the current period; the message was not delivered."}
)

// Plain errors for inputs that are not Graph requests.
var (
	// ErrBadWAMID: the string is not a message id of Meta's wamid shape.
	ErrBadWAMID = errors.New("malformed message id")
	// ErrBadContent: stored content bytes are not of a known version/kind.
	ErrBadContent = errors.New("malformed stored content")
	// ErrBadCallback: a webhook callback is not an absolute http(s) URL.
	ErrBadCallback = errors.New("callback must be an absolute http(s) URL")
)

// missing is a 131008 naming the absent field.
func missing(field string) error {
	return graph.ErrMissingParameter.Withf("%s is required", field)
}

// invalid is a 131009 with a details text that names the field.
func invalid(format string, args ...any) error {
	return graph.ErrParameterValue.Withf(format, args...)
}

// badParam is a 100 with a details text that names the field.
func badParam(format string, args ...any) error {
	return graph.ErrInvalidParameter.Withf(format, args...)
}

// errTruncated: a message id's bytes end inside a value.
var errTruncated = errors.New("truncated")
