package signalstore

import (
	"context"
	"log/slog"
	"testing"

	"github.com/waedge/waedge/network"
)

// BenchmarkOneWay encrypts a 250-byte message on the business side and
// decrypts it on the phone, always in the same direction (a business
// sending a burst to one consumer: no DH ratchet step, so the symmetric
// chain and libsignal's own overhead dominate). In-memory stores, no disk.
func BenchmarkOneWay(b *testing.B) {
	SetupLogging(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	biz, err := Open(NewMemStore())
	if err != nil {
		b.Fatal(err)
	}
	ph, err := Open(NewMemStore())
	if err != nil {
		b.Fatal(err)
	}
	otks, _ := ph.NewPreKeys(ctx, 1)
	reg, err := ph.Registration(ctx, "4915100000010", "phone", otks)
	if err != nil {
		b.Fatal(err)
	}
	if err := biz.StartSession(ctx, network.PreKeyBundle{Number: reg.Number, DeviceID: 1, RegistrationID: reg.RegistrationID,
		IdentityKey: reg.IdentityKey, SignedPreKeyID: reg.SignedPreKey.ID, SignedPreKey: reg.SignedPreKey.Public,
		SignedPreKeySig: reg.SignedPreKey.Signature, PreKeyID: otks[0].ID, PreKey: otks[0].Public}); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 250)
	to, from := Address("4915100000010", 1), Address("15550001000", 1)
	b.ReportAllocs()
	for b.Loop() {
		kind, ct, err := biz.Encrypt(ctx, to, msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ph.Decrypt(ctx, from, kind, ct); err != nil {
			b.Fatal(err)
		}
	}
}
