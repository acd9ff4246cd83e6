package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleEnvelope() Envelope {
	return Envelope{
		ID: "wamid.ABC123==", From: "15550001111", To: "4915112345678", FromDevice: 1,
		Kind: KindPreKeyMessage, Ciphertext: []byte{1, 2, 3, 0, 255}, Timestamp: 1_700_000_000_123,
		ProfileName: "Zoë",
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	big := sampleEnvelope()
	big.Ciphertext = bytes.Repeat([]byte{7}, MaxCiphertextSize)
	noName := sampleEnvelope()
	noName.ProfileName = ""
	noName.Kind = KindSignalMessage
	for name, e := range map[string]Envelope{"sample": sampleEnvelope(), "max ciphertext": big, "no name": noName} {
		t.Run(name, func(t *testing.T) {
			b, err := MarshalEnvelope(&e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalEnvelope(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip changed the envelope: %+v", got.ID)
			}
			b[len(b)-1] ^= 0xff // the decoded ciphertext must not alias the input
			if got.Ciphertext[len(got.Ciphertext)-1] != e.Ciphertext[len(e.Ciphertext)-1] {
				t.Fatal("ciphertext aliases the input buffer")
			}
		})
	}
}

func TestEnvelopeRejects(t *testing.T) {
	mod := func(f func(e *Envelope)) Envelope { e := sampleEnvelope(); f(&e); return e }
	cases := map[string]Envelope{
		"empty id":       mod(func(e *Envelope) { e.ID = "" }),
		"id with space":  mod(func(e *Envelope) { e.ID = "a b" }),
		"long id":        mod(func(e *Envelope) { e.ID = strings.Repeat("a", MaxIDLen+1) }),
		"plus in number": mod(func(e *Envelope) { e.From = "+1555000" }),
		"short number":   mod(func(e *Envelope) { e.To = "12" }),
		"long number":    mod(func(e *Envelope) { e.To = "1234567890123456" }),
		"kind 4":         mod(func(e *Envelope) { e.Kind = 4 }),
		"no ciphertext":  mod(func(e *Envelope) { e.Ciphertext = nil }),
		"huge":           mod(func(e *Envelope) { e.Ciphertext = make([]byte, MaxCiphertextSize+1) }),
		"negative time":  mod(func(e *Envelope) { e.Timestamp = -1 }),
		"bad utf8 name":  mod(func(e *Envelope) { e.ProfileName = "\xff" }),
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := MarshalEnvelope(&e); !errors.Is(err, ErrInvalid) {
				t.Fatalf("MarshalEnvelope = %v, want ErrInvalid", err)
			}
			// The decoder must refuse the same envelope when it arrives from outside.
			if _, err := UnmarshalEnvelope(AppendEnvelope(nil, &e)); err == nil {
				t.Fatal("UnmarshalEnvelope accepted an invalid envelope")
			}
		})
	}
}

func TestUnmarshalEnvelopeMalformed(t *testing.T) {
	e := sampleEnvelope()
	good := AppendEnvelope(nil, &e)
	cases := map[string][]byte{
		"empty":          nil,
		"format 2":       append([]byte{2}, good[1:]...),
		"trailing":       append(append([]byte(nil), good...), 0),
		"truncated":      good[:len(good)-1],
		"huge length":    append([]byte{1, 3, 1, 0}, binary.AppendUvarint(nil, 1<<62)...),
		"bad uvarint":    {1, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"device > 32bit": append([]byte{1, 3}, binary.AppendUvarint(nil, 1<<33)...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := UnmarshalEnvelope(b); !errors.Is(err, ErrBadFrame) {
				t.Fatalf("err = %v, want ErrBadFrame", err)
			}
		})
	}
}

func TestDeliveryRoundTrip(t *testing.T) {
	e := sampleEnvelope()
	cases := map[string]Delivery{
		"envelope": {Type: DeliveryEnvelope, ID: e.ID, Envelope: &e},
		"receipt": {Type: DeliveryReceipt, ID: "r1", Receipt: &Receipt{EnvelopeIDs: []string{"a", "b"},
			From: "4915112345678", To: "15550001111", Status: StatusRead, Timestamp: 5}},
		"typing": {Type: DeliveryTyping, Typing: &Typing{From: "123", To: "456", Timestamp: 9}},
		"signal": {Type: DeliverySignal, ID: "s1", Signal: &Signal{Kind: SignalNewRecipientRate, Business: "155500", Count: 3}},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeDelivery(&d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeDelivery(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, d) {
				t.Fatalf("round trip: got %+v want %+v", got, d)
			}
			if got.Recipient() == "" {
				t.Fatal("no recipient")
			}
		})
	}
}

func TestDeliveryRejects(t *testing.T) {
	e := sampleEnvelope()
	r := Receipt{EnvelopeIDs: []string{"a"}, From: "123", To: "456", Status: "seen"}
	cases := map[string]Delivery{
		"id mismatch":   {Type: DeliveryEnvelope, ID: "other", Envelope: &e},
		"two items":     {Type: DeliveryEnvelope, ID: e.ID, Envelope: &e, Typing: &Typing{From: "123", To: "456"}},
		"wrong type":    {Type: DeliverySignal, ID: e.ID, Envelope: &e},
		"bad status":    {Type: DeliveryReceipt, ID: "r", Receipt: &r},
		"unknown type":  {Type: 9, ID: "x", Typing: &Typing{From: "123", To: "456"}},
		"no id":         {Type: DeliverySignal, Signal: &Signal{Kind: SignalBlock, Business: "123"}},
		"bad signal":    {Type: DeliverySignal, ID: "s", Signal: &Signal{Kind: "other", Business: "123"}},
		"nothing":       {Type: DeliveryTyping},
		"bad typing to": {Type: DeliveryTyping, Typing: &Typing{From: "123", To: "x"}},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := EncodeDelivery(&d); !errors.Is(err, ErrInvalid) {
				t.Fatalf("EncodeDelivery = %v, want ErrInvalid", err)
			}
		})
	}
	for name, b := range map[string][]byte{
		"empty": nil, "type only": {1}, "json garbage": append([]byte{2, 1, 'r'}, "{"...),
		"json trailing": append([]byte{3, 0}, `{"from":"123","to":"456"} {}`...),
	} {
		t.Run("decode "+name, func(t *testing.T) {
			if _, err := DecodeDelivery(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestFrameRoundTrip(t *testing.T) {
	cases := []Frame{
		{Type: FrameChallenge, Payload: []byte(`{"nonce":"AA=="}`)},
		{Type: FrameSend, ReqID: 1<<32 - 1, Payload: []byte{1, 2, 3}},
		{Type: FrameResult, ReqID: 7, Payload: nil},
		{Type: FrameDeliver, Payload: make([]byte, MaxFrameSize-FrameHeaderLen)},
	}
	for _, f := range cases {
		b, err := EncodeFrame(f)
		if err != nil {
			t.Fatalf("%d: %v", f.Type, err)
		}
		got, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("%d: %v", f.Type, err)
		}
		if got.Type != f.Type || got.ReqID != f.ReqID || !bytes.Equal(got.Payload, f.Payload) {
			t.Fatalf("round trip changed frame %d", f.Type)
		}
	}
}

func TestFrameRejects(t *testing.T) {
	if _, err := EncodeFrame(Frame{Type: FrameDeliver, Payload: make([]byte, MaxFrameSize)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized encode = %v", err)
	}
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"oversized":       {make([]byte, MaxFrameSize+1), ErrFrameTooLarge},
		"short":           {[]byte{1, 2, 0}, ErrBadFrame},
		"version 2":       {[]byte{2, 2, 0, 0, 0, 1}, ErrBadFrame},
		"unknown type":    {[]byte{1, 99, 0, 0, 0, 1}, ErrBadFrame},
		"type 0":          {[]byte{1, 0, 0, 0, 0, 1}, ErrBadFrame},
		"request no id":   {[]byte{1, byte(FrameSend), 0, 0, 0, 0}, ErrBadFrame},
		"between ranges":  {[]byte{1, 4, 0, 0, 0, 1}, ErrBadFrame},
		"above requests ": {[]byte{1, 20, 0, 0, 0, 1}, ErrBadFrame},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeFrame(c.b); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestJSONFrame(t *testing.T) {
	b, err := EncodeJSONFrame(FrameAck, 3, AckRequest{Number: "123", IDs: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	var a AckRequest
	if err := f.DecodeJSON(&a); err != nil || a.Number != "123" || len(a.IDs) != 1 {
		t.Fatalf("DecodeJSON = %v %+v", err, a)
	}
	for _, p := range []string{"", "{", `{"number":1}`, `{} {}`, `[]x`} {
		if err := (Frame{Payload: []byte(p)}).DecodeJSON(&a); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("payload %q: err = %v", p, err)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	for code, sentinel := range codeErrors {
		if got := ErrorCode(sentinel); got != code {
			t.Fatalf("ErrorCode(%v) = %q want %q", sentinel, got, code)
		}
		err := CodeError(code, "details")
		if !errors.Is(err, sentinel) || err.Error() != "details" {
			t.Fatalf("CodeError(%q) = %v", code, err)
		}
	}
	if CodeError("", "x") != nil {
		t.Fatal("empty code must be success")
	}
	if !errors.Is(CodeError("martian", ""), ErrInternal) {
		t.Fatal("unknown code must map to ErrInternal")
	}
	if ErrorCode(errors.New("x")) != "internal" {
		t.Fatal("unknown errors must be internal")
	}
}

func TestValidation(t *testing.T) {
	key := append([]byte{5}, make([]byte, 32)...)
	good := Registration{Number: "15550001111", DeviceID: 1, RegistrationID: 42, IdentityKey: key,
		SignedPreKey: SignedPreKey{ID: 1, Public: key, Signature: make([]byte, 64)},
		PreKeys:      []OneTimePreKey{{ID: 1, Public: key}}, Role: RolePhone}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	mods := map[string]func(r *Registration){
		"number":     func(r *Registration) { r.Number = "abc" },
		"device":     func(r *Registration) { r.DeviceID = 0 },
		"regid 0":    func(r *Registration) { r.RegistrationID = 0 },
		"regid big":  func(r *Registration) { r.RegistrationID = 1 << 15 },
		"identity":   func(r *Registration) { r.IdentityKey = key[:32] },
		"key type":   func(r *Registration) { r.IdentityKey = append([]byte{6}, key[1:]...) },
		"sig len":    func(r *Registration) { r.SignedPreKey.Signature = make([]byte, 63) },
		"role":       func(r *Registration) { r.Role = "admin" },
		"otk id 0":   func(r *Registration) { r.PreKeys = []OneTimePreKey{{ID: 0, Public: key}} },
		"otk id big": func(r *Registration) { r.PreKeys = []OneTimePreKey{{ID: MaxPreKeyID + 1, Public: key}} },
		"otk key":    func(r *Registration) { r.PreKeys = []OneTimePreKey{{ID: 1, Public: nil}} },
		"too many":   func(r *Registration) { r.PreKeys = make([]OneTimePreKey, MaxPreKeysPerRequest+1) },
	}
	for name, mod := range mods {
		r := good
		mod(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if !bytes.HasSuffix(AuthMessage([]byte{9}, "123"), []byte{9, '1', '2', '3'}) {
		t.Fatal("AuthMessage must end with nonce and number")
	}
}
