package raftfsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestCommandRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     CommandType
		payload any
		into    func() any
	}{
		{"noop without payload", CmdNoop, nil, nil},
		{"tenant", CmdCreateTenant, CreateTenant{BusinessID: "1", DisplayPhoneNumber: "+15551234567", TokenHash: sha256.Sum256([]byte("t")), CreatedAt: 42},
			func() any { return &CreateTenant{} }},
		{"cluster value", CmdPutClusterValue, PutClusterValue{Key: "ca", Value: []byte{0, 1, 2}}, func() any { return &PutClusterValue{} }},
		{"ignorable", FlagIgnorable | 7, RevokeToken{TokenID: "x"}, func() any { return &RevokeToken{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeCommand(tc.typ, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			typ, payload, err := DecodeCommand(b)
			if err != nil || typ != tc.typ {
				t.Fatalf("decode: type %d, %v", typ, err)
			}
			if tc.payload == nil {
				if len(payload) != 0 {
					t.Fatalf("payload %x, want none", payload)
				}
				return
			}
			v := tc.into()
			if err := DecodePayload(payload, v); err != nil {
				t.Fatal(err)
			}
			again, err := EncodeCommand(tc.typ, v)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs: %x vs %x (%v)", again, b, err)
			}
		})
	}
	if !(FlagIgnorable | 3).Ignorable() || CmdNoop.Ignorable() {
		t.Fatal("Ignorable")
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":         nil,
		"too short":     {1, 0},
		"wrong version": {2, 0, 1},
	} {
		if _, _, err := DecodeCommand(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if err := DecodePayload([]byte{0xc1}, &CreateTenant{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad payload: %v", err)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 300) // a two-byte length prefix
	for _, cmds := range [][][]byte{nil, {{}}, {{1, 0, 1}}, {{1, 0, 1}, big, {}, {1, 0x80, 9}}} {
		got, err := DecodeEntry(EncodeEntry(cmds))
		if err != nil || len(got) != len(cmds) {
			t.Fatalf("%d commands: got %d, %v", len(cmds), len(got), err)
		}
		for i := range cmds {
			if !bytes.Equal(got[i], cmds[i]) {
				t.Fatalf("command %d differs", i)
			}
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":                  nil,
		"version only":           {1},
		"wrong version":          {2, 0},
		"count beyond data":      {1, 3, 0, 0},
		"huge count":             {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"count overflows varint": {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"non-canonical count":    {1, 0x81, 0x00, 0x00},
		"length beyond data":     {1, 1, 5, 1, 2},
		"huge length":            {1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"non-canonical length":   {1, 1, 0x80, 0x00},
		"trailing bytes":         {1, 1, 1, 9, 9},
		"missing command":        {1, 2, 1, 9},
	} {
		if cmds, err := DecodeEntry(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %d commands, %v; want ErrCorrupt", name, len(cmds), err)
		}
	}
}

func TestErrorCodesRoundTrip(t *testing.T) {
	sentinels := []error{ErrNotFound, ErrConflict, ErrInvalid, ErrTokenInvalid, ErrTokenUsed, ErrIgnored,
		ErrVersion, ErrWindowClosed, ErrRateLimited, ErrPINMismatch, ErrMessagingLimit}
	seen := map[uint16]bool{}
	for _, e := range sentinels {
		code := ErrorCode(e)
		if code == 0 || code == 0xffff || seen[code] {
			t.Fatalf("%v: code %d not unique", e, code)
		}
		seen[code] = true
		for _, sent := range []error{e, domainErr(e, "detail %d", 1)} {
			back := ErrorFromCode(ErrorCode(sent), sent.Error())
			if !errors.Is(back, e) || back.Error() != sent.Error() {
				t.Fatalf("%v → %v", sent, back)
			}
			for _, other := range sentinels {
				if other != e && errors.Is(back, other) {
					t.Fatalf("%v also matches %v", back, other)
				}
			}
		}
	}
	if ErrorCode(nil) != 0 || ErrorFromCode(0, "x") != nil {
		t.Fatal("nil round trip")
	}
	if c := ErrorCode(errors.New("disk on fire")); c != 0xffff {
		t.Fatalf("unknown error code %d", c)
	}
	if e := ErrorFromCode(0xffff, "disk on fire"); e == nil || e.Error() != "disk on fire" || errors.Is(e, ErrNotFound) {
		t.Fatalf("unknown code → %v", e)
	}
	if e := ErrorFromCode(999, ""); e == nil || e.Error() == "" {
		t.Fatal("unknown code without message gives an empty error")
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry([][]byte{{1, 0, 1}}))
	f.Add(EncodeEntry(nil))
	f.Add(EncodeEntry([][]byte{{1, 0, 1}, bytes.Repeat([]byte{1}, 200)}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 2, 5, 1, 2})
	f.Add([]byte{1, 0x81, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		// Exactly one encoding per entry.
		if !bytes.Equal(EncodeEntry(cmds), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	for _, seed := range []struct {
		t CommandType
		p any
	}{
		{CmdNoop, nil},
		{CmdCreateTenant, CreateTenant{BusinessID: "1", WABAID: "2", PhoneNumberID: "3", AppID: "4", DisplayPhoneNumber: "+15551234567"}},
		{CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j", NodeID: "n", Now: 5}},
		{CmdPutClusterValue, PutClusterValue{Key: "k", Value: []byte("v")}},
	} {
		b, err := EncodeCommand(seed.t, seed.p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 0, 2, 0xdf, 0xff, 0xff, 0xff, 0xff})          // map claiming 4G entries
	f.Add([]byte{1, 0, 5, 0x82, 0xa3, 'K', 'e', 'y', 0xc5, 0xff}) // truncated bin16
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, payload, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(b[3:], payload) || uint16(typ) != uint16(b[1])<<8|uint16(b[2]) {
			t.Fatal("type or payload mangled")
		}
		// Payload decoders must fail cleanly, never panic, on any bytes.
		for _, v := range []any{&CreateTenant{}, &CreateToken{}, &ConsumeJoinToken{}, &PutClusterValue{}, &RemoveMember{}} {
			if err := DecodePayload(payload, v); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("payload error %v is not ErrCorrupt", err)
			}
		}
	})
}
