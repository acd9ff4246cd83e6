package raftfsm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleAccept() AcceptMessage {
	return AcceptMessage{Key: bytes.Repeat([]byte{7}, 16), IDRef: "ref", IDSealed: []byte("ids"), PhoneNumberID: "3001",
		BusinessID: "1001", PeerRef: "peer", PeerSealed: []byte("ps"), Type: "template", Content: []byte("content"),
		CallbackSealed: []byte("cb"), RequireWindow: true, CreatedAt: -5, TemplateName: "t", TemplateLanguage: "en"}
}

func sampleStatuses() MessageStatuses {
	return MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
		{IDRef: "a", Status: StatusSent, At: 9},
		{IDRef: "b", Status: StatusRead, At: 1 << 40, Event: &OutboxEvent{Key: []byte("k"), WABAID: "w", BusinessID: "b",
			PhoneNumberID: "p", Body: []byte("body"), CreatedAt: 3, Attempts: 2, NextAt: 4, LastStatus: "503", LastAttemptAt: 5}},
	}, SentKeys: [][]byte{[]byte("s1")}, ReadsDone: [][]byte{[]byte("r1"), []byte("r2")}}
}

func sampleMessage() Message {
	return Message{Key: bytes.Repeat([]byte{9}, 16), IDRef: "ref", IDSealed: []byte("ids"), PhoneNumberID: "3001",
		BusinessID: "1001", PeerRef: "peer", PeerSealed: []byte("ps"), Direction: DirectionOut, Type: "text",
		Content: []byte("c"), CallbackSealed: []byte("cb"), Status: StatusSent, CreatedAt: 1, UpdatedAt: 2,
		NetworkID: "n", Category: CategoryService}
}

func sampleRound() SignalRound {
	ev := &OutboxEvent{Key: []byte("ek"), WABAID: "w", BusinessID: "b", PhoneNumberID: "p", Body: []byte("sealed"), CreatedAt: 7}
	return SignalRound{
		Commits: []SignalCommit{
			{PhoneNumberID: "3001", Expect: []SignalExpect{{Key: "sessions\x00r:1", Version: 3}, {Key: "identities\x00r"}},
				Writes:   []SignalWrite{{Key: "sessions\x00r:1", Value: []byte("record")}, {Key: "prekeys\x00x", Delete: true}},
				Outbound: []OutboundEnvelope{{MessageKey: []byte("m1"), Sealed: []byte("env1")}, {MessageKey: []byte("m2"), Sealed: []byte("env2")}}},
			{PhoneNumberID: "3001", Inbound: &RecordInbound{Key: []byte("ik"), IDRef: "ir", IDSealed: []byte("is"), PhoneNumberID: "3001",
				PeerRef: "pr", PeerSealed: []byte("ps"), Type: "text", Content: []byte("c"), ReceivedAt: -9, NetworkID: "n", Event: ev},
				InboundHash: []byte("hash")},
			{PhoneNumberID: "3002", Inbound: &RecordInbound{Key: []byte("ik2")},
				Failed: []StatusUpdate{{IDRef: "f", Status: StatusFailed, At: 1, Event: ev}, {IDRef: "g", Status: StatusFailed}}},
			{},
		},
		Statuses: []MessageStatuses{sampleStatuses(), {}},
	}
}

// TestSignalRoundBinaryMatchesMsgpack: the binary round decodes to exactly
// what the msgpack round (CmdSignalRound) decodes to, so both apply alike.
func TestSignalRoundBinaryMatchesMsgpack(t *testing.T) {
	for _, r := range []SignalRound{sampleRound(), {}} {
		typ, payload, err := DecodeCommand(EncodeSignalRound(r))
		if err != nil || typ != CmdSignalRoundV2 {
			t.Fatal(typ, err)
		}
		got, err := DecodeSignalRound(payload)
		if err != nil {
			t.Fatal(err)
		}
		old, err := EncodeCommand(CmdSignalRound, r)
		if err != nil {
			t.Fatal(err)
		}
		var want SignalRound
		if err := DecodePayload(old[3:], &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("binary %+v\nmsgpack %+v", got, want)
		}
		if len(EncodeSignalRound(r)) > len(old) {
			t.Errorf("binary round of %d bytes, msgpack %d", len(EncodeSignalRound(r)), len(old))
		}
	}
	enc := EncodeSignalRound(sampleRound())[3:]
	for i := range enc {
		if _, err := DecodeSignalRound(enc[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

func TestHotEncodingsRoundTrip(t *testing.T) {
	a := sampleAccept()
	typ, payload, err := DecodeCommand(EncodeAcceptMessage(a))
	if err != nil || typ != CmdAcceptMessageV2 {
		t.Fatal(typ, err)
	}
	if got, err := DecodeAcceptMessage(payload); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("accept: %+v, %v", got, err)
	}
	s := sampleStatuses()
	typ, payload, err = DecodeCommand(EncodeMessageStatuses(s))
	if err != nil || typ != CmdMessageStatusesV2 {
		t.Fatal(typ, err)
	}
	if got, err := DecodeMessageStatuses(payload); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("statuses: %+v, %v", got, err)
	}
	m := sampleMessage()
	if got, err := decodeMessage(messageKey(m.PhoneNumberID, m.Key), encodeMessage(&m)); err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("record: %+v, %v", got, err)
	}
	// Truncated anywhere: an error, never a panic or a short read.
	enc := EncodeAcceptMessage(a)[3:]
	for i := range enc {
		if _, err := DecodeAcceptMessage(enc[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

// The fuzz targets below run their seeds under plain `go test`; `go test
// -fuzz FuzzDecodeHot ./raftfsm` explores. Every input either fails with
// ErrCorrupt or decodes to a value whose encoding is the input (exactly
// one encoding per command and record).

// checkCanonical: b fails to decode with ErrCorrupt, or it is the
// encoding of what it decodes to.
func checkCanonical[T any](t *testing.T, b []byte, dec func([]byte) (T, error), enc func(T) []byte) {
	c, err := dec(b)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v is not ErrCorrupt", err)
		}
		return
	}
	if !bytes.Equal(enc(c)[3:], b) {
		t.Fatal("re-encoding differs")
	}
}

func FuzzDecodeAcceptMessage(f *testing.F) {
	f.Add(EncodeAcceptMessage(sampleAccept())[3:])
	f.Add(EncodeAcceptMessage(AcceptMessage{})[3:])
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) { checkCanonical(t, b, DecodeAcceptMessage, EncodeAcceptMessage) })
}

func FuzzDecodeMessageStatuses(f *testing.F) {
	f.Add(EncodeMessageStatuses(sampleStatuses())[3:])
	f.Add(EncodeMessageStatuses(MessageStatuses{})[3:])
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}) // a count far beyond the input
	f.Add([]byte{1, 0, 1, 0, 0, 0, 2})                // a flag that is neither 0 nor 1
	f.Fuzz(func(t *testing.T, b []byte) { checkCanonical(t, b, DecodeMessageStatuses, EncodeMessageStatuses) })
}

func FuzzDecodeSignalRound(f *testing.F) {
	f.Add(EncodeSignalRound(sampleRound())[3:])
	f.Add(EncodeSignalRound(SignalRound{})[3:])
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}) // a count far beyond the input
	f.Add([]byte{1, 1, 0, 0, 0, 0, 2, 0, 0, 0})    // an inbound flag that is neither 0 nor 1
	f.Fuzz(func(t *testing.T, b []byte) { checkCanonical(t, b, DecodeSignalRound, EncodeSignalRound) })
}

func FuzzDecodeMessageRecord(f *testing.F) {
	m := sampleMessage()
	f.Add(messageKey(m.PhoneNumberID, m.Key), encodeMessage(&m))
	f.Add([]byte("3001\x00short"), []byte{1})
	f.Add(messageKey("", make([]byte, 16)), []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		got, err := decodeMessage(k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(encodeMessage(&got), v) || !bytes.Equal(messageKey(got.PhoneNumberID, got.Key), k) {
			t.Fatal("re-encoding differs")
		}
	})
}
