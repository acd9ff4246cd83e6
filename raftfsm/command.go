package raftfsm

import (
	"encoding/binary"
	"errors"
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
	// CmdCreateTemplate adds a message template (status PENDING).
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
)

const (
	commandVersion = 1
	entryVersion   = 1
	// maxCommandsPerEntry and maxCommandLen bound what a decoder allocates.
	maxCommandsPerEntry = 1 << 16
	maxCommandLen       = 64 << 20
)

var errCorrupt = errors.New("corrupt raft entry")

func newHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.Canonical = true
	h.RawToString = true
	h.WriteExt = true
	return h
}

// codecHandle is immutable after construction and safe for concurrent use.
var codecHandle = newHandle()

// EncodeCommand encodes a command: [version][type BE16][msgpack payload].
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

// DecodeCommand splits a command into its type and payload.
func DecodeCommand(b []byte) (CommandType, []byte, error) {
	if len(b) < 3 {
		return 0, nil, fmt.Errorf("%w: command of %d bytes", errCorrupt, len(b))
	}
	if b[0] != commandVersion {
		return 0, nil, fmt.Errorf("%w: command version %d", errCorrupt, b[0])
	}
	return CommandType(binary.BigEndian.Uint16(b[1:3])), b[3:], nil
}

// DecodePayload decodes a command payload into v.
func DecodePayload(payload []byte, v any) error {
	if err := codec.NewDecoderBytes(payload, codecHandle).Decode(v); err != nil {
		return fmt.Errorf("%w: payload: %v", errCorrupt, err)
	}
	return nil
}

// EncodeEntry packs commands into one Raft log entry:
// [version][uvarint n] then n × [uvarint len][command].
func EncodeEntry(cmds [][]byte) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		size += binary.MaxVarintLen64 + len(c)
	}
	out := make([]byte, 0, size)
	out = append(out, entryVersion)
	out = binary.AppendUvarint(out, uint64(len(cmds)))
	for _, c := range cmds {
		out = binary.AppendUvarint(out, uint64(len(c)))
		out = append(out, c...)
	}
	return out
}

// DecodeEntry unpacks a Raft log entry into its commands. The returned
// slices alias b.
func DecodeEntry(b []byte) ([][]byte, error) {
	if len(b) < 2 || b[0] != entryVersion {
		return nil, fmt.Errorf("%w: bad entry header", errCorrupt)
	}
	p := 1
	n, k := binary.Uvarint(b[p:])
	if k <= 0 || k != uvarintLen(n) || n > maxCommandsPerEntry || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad command count", errCorrupt)
	}
	p += k
	cmds := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b[p:])
		if k <= 0 || k != uvarintLen(l) || l > maxCommandLen || l > uint64(len(b)-p-k) {
			return nil, fmt.Errorf("%w: bad command length", errCorrupt)
		}
		p += k
		cmds = append(cmds, b[p:p+int(l)])
		p += int(l)
	}
	if p != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(b)-p)
	}
	return cmds, nil
}

// uvarintLen is the length of the canonical encoding of v; a decoder that
// accepts only canonical varints gives every entry exactly one encoding.
func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}

// Result is the outcome of applying one command.
type Result struct {
	// Value is handler-defined output (may be nil).
	Value []byte
	// Err is nil or a domain error (errors.Is-able against the sentinels).
	Err error
}
