package raftfsm

import (
	"crypto/sha256"
	"errors"
	"testing"
)

// TestConsoleAccounts: a link is redeemed once and not after its expiry,
// names are unique in any case, a disabled user loses every session and
// cannot sign in again.
func TestConsoleAccounts(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	const t0 = int64(1_767_225_600_000)
	link := func(secret string, exp int64) {
		a.mustApply(cmd(t, CmdConsoleInvite, ConsoleInvite{Hash: sha256.Sum256([]byte(secret)), Link: ConsoleLink{Role: TokenAdmin, ExpiresAt: exp}}))
	}
	redeem := func(secret, id, name string, at int64) error {
		return a.apply(cmd(t, CmdConsoleRedeem, ConsoleRedeem{LinkHash: sha256.Sum256([]byte(secret)), At: at,
			User: ConsoleUser{ID: id, Name: name, PasswordHash: "h", CreatedAt: at}})).Err
	}
	link("a", t0+1000)
	link("b", t0+1000)
	link("late", t0+10)
	if err := a.apply(cmd(t, CmdConsoleInvite, ConsoleInvite{Hash: sha256.Sum256([]byte("x")),
		Link: ConsoleLink{Role: TokenBusinessAdmin, ExpiresAt: t0 + 10}})).Err; !errors.Is(err, ErrInvalid) {
		t.Fatalf("business admin link without business: %v", err)
	}
	if err := redeem("late", "u0", "late", t0+10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired link: %v", err)
	}
	if err := redeem("a", "u1", "Root", t0+1); err != nil {
		t.Fatal(err)
	}
	if err := redeem("a", "u2", "other", t0+2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link used twice: %v", err)
	}
	if err := redeem("b", "u2", "ROOT", t0+2); !errors.Is(err, ErrConflict) {
		t.Fatalf("name taken in another case: %v", err)
	}
	u, err := a.f.ConsoleUserByName("rOOt")
	if err != nil || u.ID != "u1" || u.Role != TokenAdmin {
		t.Fatalf("user by name: %+v %v", u, err)
	}
	for i, s := range []string{"s1", "s2"} {
		a.mustApply(cmd(t, CmdConsoleSignIn, ConsoleSignIn{Hash: sha256.Sum256([]byte(s)), At: t0 + 3,
			Session: ConsoleSession{UserID: "u1", CreatedAt: t0 + 3, ExpiresAt: t0 + 100 + int64(i)}}))
	}
	if _, su, err := a.f.ConsoleSessionUser(sha256.Sum256([]byte("s1"))); err != nil || su.ID != "u1" {
		t.Fatalf("session: %+v %v", su, err)
	}
	a.mustApply(cmd(t, CmdConsoleSetUser, ConsoleSetUser{UserID: "u1", Disabled: true}))
	for _, s := range []string{"s1", "s2"} {
		if _, _, err := a.f.ConsoleSessionUser(sha256.Sum256([]byte(s))); !errors.Is(err, ErrNotFound) {
			t.Fatalf("session %s of a disabled user: %v", s, err)
		}
	}
	if err := a.apply(cmd(t, CmdConsoleSignIn, ConsoleSignIn{Hash: sha256.Sum256([]byte("s3")), At: t0 + 4,
		Session: ConsoleSession{UserID: "u1", ExpiresAt: t0 + 100}})).Err; !errors.Is(err, ErrNotFound) {
		t.Fatalf("disabled user signed in: %v", err)
	}
}
