package network

import (
	"bytes"
	"reflect"
	"testing"
)

// The seeds below are also committed under testdata/fuzz so `go test` replays them without -fuzz.

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte{1, byte(FrameSend), 0, 0, 0, 1, 1, 3, 1, 0})
	f.Add([]byte{1, byte(FrameResult), 0, 0, 0, 9, '{', '}'})
	f.Add([]byte{2, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		again, err := EncodeFrame(fr)
		if err != nil {
			t.Fatalf("decoded frame does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("frame encoding is not canonical")
		}
		// Payload decoders must never panic on whatever the frame carries.
		switch fr.Type {
		case FrameSend:
			_, _ = UnmarshalEnvelope(fr.Payload)
		case FrameDeliver:
			_, _ = DecodeDelivery(fr.Payload)
		default:
			var r Result
			_ = fr.DecodeJSON(&r)
		}
	})
}

func FuzzUnmarshalEnvelope(f *testing.F) {
	e := sampleEnvelope()
	f.Add(AppendEnvelope(nil, &e))
	f.Add([]byte{1, 2, 1, 0, 1, 'a', 3, '1', '2', '3', 3, '4', '5', '6', 0, 1, 0})
	f.Add([]byte{1, 3, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEnvelope(b)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoder returned an invalid envelope: %v", err)
		}
		enc, err := MarshalEnvelope(&e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := UnmarshalEnvelope(enc)
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("re-encoded envelope differs: %v", err)
		}
	})
}

func FuzzDecodeDelivery(f *testing.F) {
	e := sampleEnvelope()
	for _, d := range []Delivery{
		{Type: DeliveryEnvelope, ID: e.ID, Envelope: &e},
		{Type: DeliveryReceipt, ID: "r", Receipt: &Receipt{EnvelopeIDs: []string{"a"}, From: "123", To: "456", Status: "read"}},
		{Type: DeliverySignal, ID: "s", Signal: &Signal{Kind: SignalSpamReport, Business: "123", Consumer: "456"}},
		{Type: DeliveryTyping, Typing: &Typing{From: "123", To: "456"}},
	} {
		b, err := EncodeDelivery(&d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDelivery(b)
		if err != nil {
			return
		}
		enc, err := EncodeDelivery(&d)
		if err != nil {
			t.Fatalf("decoded delivery does not re-encode: %v", err)
		}
		d2, err := DecodeDelivery(enc)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("re-encoded delivery differs: %v", err)
		}
		if d.Recipient() == "" {
			t.Fatal("valid delivery without recipient")
		}
	})
}

func FuzzDecodeContent(f *testing.F) {
	f.Add([]byte(`{"id":"m1","type":"text","text":{"body":"hi"}}`))
	f.Add([]byte(`{"id":"m2","type":"location","location":{"latitude":1,"longitude":2}}`))
	f.Add([]byte(`{"id":"m3","type":"button_reply","reply":{"id":"a","title":"A"},"context":{"message_id":"m1"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeContent(b)
		if err != nil {
			return
		}
		enc, err := EncodeContent(&c)
		if err != nil {
			t.Fatalf("decoded content does not re-encode: %v", err)
		}
		if _, err := DecodeContent(enc); err != nil {
			t.Fatalf("re-encoded content does not decode: %v", err)
		}
	})
}
