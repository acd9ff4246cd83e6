package signalstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	signallog "go.mau.fi/libsignal/logger"

	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/network"
)

// TestLibsignalLoggingCarriesNoSecrets: libsignal's global logger, routed
// into slog by SetupLogging, passes on only the caller position of
// warnings and errors (at debug level), never the text: a whole session
// set-up and a failed decryption leave no key material, plaintext or
// message text in the log, and libsignal's own debug lines (which print
// keys) are dropped.
func TestLibsignalLoggingCarriesNoSecrets(t *testing.T) {
	var sink syncbuf.Buffer
	SetupLogging(slog.New(slog.NewJSONHandler(&sink, &slog.HandlerOptions{Level: slog.LevelDebug})))

	ctx := context.Background()
	biz, err := Open(NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	ph, err := Open(NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	otks, _ := ph.NewPreKeys(ctx, 1)
	reg, err := ph.Registration(ctx, "4915100000009", "phone", otks)
	if err != nil {
		t.Fatal(err)
	}
	if err := biz.StartSession(ctx, network.PreKeyBundle{Number: reg.Number, DeviceID: 1, RegistrationID: reg.RegistrationID,
		IdentityKey: reg.IdentityKey, SignedPreKeyID: reg.SignedPreKey.ID, SignedPreKey: reg.SignedPreKey.Public,
		SignedPreKeySig: reg.SignedPreKey.Signature, PreKeyID: otks[0].ID, PreKey: otks[0].Public}); err != nil {
		t.Fatal(err)
	}
	const plaintext = "plaintext-marker-7f3a"
	kind, ct, err := biz.Encrypt(ctx, Address("4915100000009", 1), []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	bizAddr := Address("15550001000", 1)
	if got, err := ph.Decrypt(ctx, bizAddr, kind, ct); err != nil || string(got) != plaintext {
		t.Fatalf("decrypt: %q %v", got, err)
	}
	// A replay fails (duplicate counter): libsignal reports it.
	if _, err := ph.Decrypt(ctx, bizAddr, kind, ct); err == nil {
		t.Fatal("replayed message decrypted twice")
	}
	// And libsignal's own calls, with text that must not get through.
	signallog.Debug("debug-marker ", hex.EncodeToString(reg.IdentityKey))
	signallog.Info("info-marker")
	signallog.Warning("warning-marker")
	signallog.Error("error-marker")

	out := sink.String()
	secrets := []string{plaintext, "debug-marker", "info-marker", "warning-marker", "error-marker"}
	for _, key := range [][]byte{reg.IdentityKey, biz.IdentityPublicKey(), otks[0].Public, reg.SignedPreKey.Public} {
		secrets = append(secrets, hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key))
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("log carries %q:\n%s", s, out)
		}
	}
	var warnings, errs int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] != "DEBUG" || len(rec) != 4 || rec["at"] == "" {
			t.Fatalf("unexpected record %v (want time, level DEBUG, msg, at)", rec)
		}
		switch rec["msg"] {
		case "libsignal warning":
			warnings++
		case "libsignal error":
			errs++
		default:
			t.Fatalf("unexpected record %v", rec)
		}
	}
	if warnings == 0 || errs == 0 {
		t.Fatalf("warnings %d, errors %d: libsignal's warnings and errors must still be routed", warnings, errs)
	}
}
