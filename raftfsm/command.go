package raftfsm

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// CommandType identifies a command. The top bit (FlagIgnorable) marks types
// that an older binary may skip instead of stopping, so new optional
// commands can be rolled out one node at a time.
type CommandType uint16

// FlagIgnorable marks a command type older binaries may skip.
const FlagIgnorable CommandType = 0x8000

// Command types. Numbers are part of the log format: never reuse one.
const (
	// CmdNoop does nothing (barriers, tests, benchmarks).
	CmdNoop CommandType = 1
	// CmdCreateTenant creates a business with its WABA, phone number, app and first token.
	CmdCreateTenant CommandType = 2
	// CmdCreateToken adds an access token.
	CmdCreateToken CommandType = 3
	// CmdRevokeToken deletes an access token.
	CmdRevokeToken CommandType = 4
	// CmdPutClusterValue sets a cluster-wide value (CA, settings).
	CmdPutClusterValue CommandType = 5
	// CmdCreateJoinToken records a join token's hash and expiry.
	CmdCreateJoinToken CommandType = 6
	// CmdConsumeJoinToken uses a join token to admit a node.
	CmdConsumeJoinToken CommandType = 7
	// CmdRemoveMember revokes a node.
	CmdRemoveMember CommandType = 8
	// CmdAcceptMessage stores an outbound message accepted by the API.
	CmdAcceptMessage CommandType = 9
	// CmdRecordInbound stores an inbound message and opens the 24-hour window.
	CmdRecordInbound CommandType = 10
	// CmdMarkRead marks an inbound message as read by the business.
	CmdMarkRead CommandType = 11
	// CmdSetSubscription sets a WABA's webhook callback.
	CmdSetSubscription CommandType = 12
	// CmdDeleteSubscription removes a WABA's webhook callback.
	CmdDeleteSubscription CommandType = 13
	// CmdWebhookAttempt records the outcome of one webhook delivery attempt.
	CmdWebhookAttempt CommandType = 14
	// CmdPutDataKey records a day's wrapped data key (first one wins).
	CmdPutDataKey CommandType = 15
	// CmdCreateTemplate adds a message template (status PENDING). The API
	// proposes CmdSubmitTemplate now; this one stays for older logs.
	CmdCreateTemplate CommandType = 16
	// CmdSetTemplateStatus approves or rejects a template.
	CmdSetTemplateStatus CommandType = 17
	// CmdDeleteTemplates deletes a template (all languages of a name).
	CmdDeleteTemplates CommandType = 18
	// CmdRegisterPhone registers or deregisters a phone number.
	CmdRegisterPhone CommandType = 19
	// CmdSetPIN sets a phone number's two-step verification PIN.
	CmdSetPIN CommandType = 20
	// CmdUpdateProfile updates a phone number's business profile.
	CmdUpdateProfile CommandType = 21
	// CmdSetPhoneLimits sets a phone number's throughput and pair-rate limits.
	CmdSetPhoneLimits CommandType = 22
	// CmdPutMediaChunk stores one sealed chunk of a media upload.
	CmdPutMediaChunk CommandType = 23
	// CmdCommitMedia makes a fully stored media upload visible.
	CmdCommitMedia CommandType = 24
	// CmdDeleteMedia deletes a media and its chunks.
	CmdDeleteMedia CommandType = 25
	// CmdSetTemplateReview sets a WABA's template review policy.
	CmdSetTemplateReview CommandType = 26
	// CmdSubmitTemplate adds a message template and applies its WABA's
	// review policy in the same command.
	CmdSubmitTemplate CommandType = 27
	// CmdSignalCommit commits one Signal operation of the leader's connector:
	// store changes (compare-and-set) plus their effect.
	CmdSignalCommit CommandType = 30
	// CmdMessageStatuses advances outbound message statuses (sent, delivered,
	// read) and clears envelopes the network accepted.
	CmdMessageStatuses CommandType = 31

	// CmdExpire deletes what is past each phone number's retention, as of
	// the leader-chosen Now, and destroys expired data keys (bounded work;
	// the result says whether more is left).
	CmdExpire CommandType = 40
	// CmdSetRetention sets a phone number's retention.
	CmdSetRetention CommandType = 41

	// CmdAudit appends one admin action to the audit log.
	CmdAudit CommandType = 50
	// CmdRecordIntegrity counts one integrity signal (spam report, block,
	// unblock, new-recipient rate) of a business number and re-derives the
	// number's quality rating (issue 5).
	CmdRecordIntegrity CommandType = 55
	// CmdSetMessagingTier sets a phone number's messaging-limit tier.
	CmdSetMessagingTier CommandType = 56

	// CmdConsoleInvite records a one-time console invitation (or setup) link.
	CmdConsoleInvite CommandType = 90
	// CmdConsoleRedeem consumes a console link and creates its user.
	CmdConsoleRedeem CommandType = 91
	// CmdConsoleSignIn records a console session.
	CmdConsoleSignIn CommandType = 92
	// CmdConsoleSignOut ends a console session.
	CmdConsoleSignOut CommandType = 93
	// CmdConsoleSetUser disables or re-enables a console user.
	CmdConsoleSetUser CommandType = 94

	// CmdEditTemplate edits a template's category or components and
	// submits it for review again (POST /{template-id}).
	CmdEditTemplate CommandType = 80
	// CmdPutPhoneSetting sets or deletes one named setting of a phone
	// number (conversational automation, commerce settings, QR codes, …).
	CmdPutPhoneSetting CommandType = 81

	// CmdWebhookAttempts records the outcomes of a round of webhook
	// deliveries (one command per round instead of one per event).
	CmdWebhookAttempts CommandType = 83
	// CmdSetAppWebhook sets (or removes) an app's webhook callback.
	CmdSetAppWebhook CommandType = 84
	// CmdSetPhoneWebhook sets (or removes) a phone number's webhook
	// callback override.
	CmdSetPhoneWebhook CommandType = 85
	// CmdSetProfilePicture sets a phone number's profile picture (120).
	CmdSetProfilePicture CommandType = 120

	// CmdSetUserPreference records a consumer's marketing-message
	// preference (stop or resume) and queues the user_preferences webhook.
	CmdSetUserPreference CommandType = 130
	// CmdRequestDisplayName submits a display-name change for review under
	// the WABA's review policy (approve at once, manual, reject).
	CmdRequestDisplayName CommandType = 131
	// CmdDecideDisplayName approves or declines a pending display name.
	CmdDecideDisplayName CommandType = 132
	// CmdSetTemplateQuality sets a template's quality score and queues the
	// message_template_quality_update webhook.
	CmdSetTemplateQuality CommandType = 133
	// CmdSetTemplateCategory changes a template's category and queues the
	// template_category_update webhook.
	CmdSetTemplateCategory CommandType = 134
	// CmdChangeMessagingTier sets a number's messaging-limit tier with its
	// business_capability_update and phone_number_quality_update webhooks.
	CmdChangeMessagingTier CommandType = 135
	// CmdEnableTemplateInsights confirms template analytics for a WABA
	// (POST /{waba-id}?is_enabled_for_insights=true; one way).
	CmdEnableTemplateInsights CommandType = 140
	// CmdAcceptFailedMessage stores an accepted outbound message that
	// fails at once (131048, 131050) with its failed status webhook.
	CmdAcceptFailedMessage CommandType = 141
	// CmdSetSubscriptionV2 is CmdSetSubscription with the account_update
	// PARTNER_APP_INSTALLED webhook of a new subscription.
	CmdSetSubscriptionV2 CommandType = 142
)

// Ignorable reports whether an older binary may skip commands of type t.
func (t CommandType) Ignorable() bool { return t&FlagIgnorable != 0 }

// commandVersion is the first byte of every command.
const commandVersion = 1

// newHandle returns the msgpack handle for payloads and stored records.
// Its options are part of the on-disk and on-log format: changing them
// changes the bytes replicas write.
func newHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.Canonical = true // maps (if any) encode in sorted key order
	h.RawToString = true
	h.WriteExt = true
	return h
}

// codecHandle is configured once and only read afterwards; go-msgpack
// handles are safe for concurrent use.
var codecHandle = newHandle()

// EncodeCommand encodes a command: [version][type BE16][msgpack payload].
// A nil payload encodes as no payload bytes at all.
func EncodeCommand(t CommandType, payload any) ([]byte, error) {
	out := make([]byte, 3, 64)
	out[0] = commandVersion
	binary.BigEndian.PutUint16(out[1:], uint16(t))
	if payload != nil {
		var body []byte
		if err := codec.NewEncoderBytes(&body, codecHandle).Encode(payload); err != nil {
			return nil, fmt.Errorf("encode command %d: %w", t, err)
		}
		out = append(out, body...)
	}
	return out, nil
}

// DecodeCommand splits a command into its type and payload. The payload
// aliases b.
func DecodeCommand(b []byte) (CommandType, []byte, error) {
	if len(b) < 3 {
		return 0, nil, fmt.Errorf("%w: command of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != commandVersion {
		return 0, nil, fmt.Errorf("%w: command version %d", ErrCorrupt, b[0])
	}
	return CommandType(binary.BigEndian.Uint16(b[1:3])), b[3:], nil
}

// DecodePayload decodes a command payload into v (a pointer to the
// command's payload struct). Decoded byte slices and strings are copies.
func DecodePayload(payload []byte, v any) error {
	if err := codec.NewDecoderBytes(payload, codecHandle).Decode(v); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrCorrupt, err)
	}
	return nil
}

// decode decodes a payload inside Apply or panics: an undecodable committed
// command means this binary cannot follow the log, and continuing would
// fork the replicas.
func decode(payload []byte, v any) {
	if err := DecodePayload(payload, v); err != nil {
		panic(fmt.Sprintf("raftfsm: %v", err))
	}
}

// marshal encodes a stored record. Records are Go structs, so the encoding
// is deterministic.
func marshal(v any) []byte {
	var b []byte
	if err := codec.NewEncoderBytes(&b, codecHandle).Encode(v); err != nil {
		panic(fmt.Sprintf("raftfsm: encode record: %v", err))
	}
	return b
}

// unmarshal decodes a stored record; the result shares no memory with b.
func unmarshal(b []byte, v any) error {
	return codec.NewDecoderBytes(b, codecHandle).Decode(v)
}
