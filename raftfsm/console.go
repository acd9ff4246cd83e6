package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Console users, their one-time invitation links and their sign-in
// sessions (issue 13). Secrets are stored only as sha256 hashes and
// passwords only as argon2id hashes computed by the proposer, so Apply
// stays deterministic and cheap.

var (
	// bucketConsoleUsers: console user id → ConsoleUser.
	bucketConsoleUsers = []byte("console_users")
	// bucketConsoleNames: lower-case user name → user id (uniqueness).
	bucketConsoleNames = []byte("console_names")
	// bucketConsoleLinks: sha256(link secret) → ConsoleLink.
	bucketConsoleLinks = []byte("console_links")
	// bucketConsoleSessions: sha256(session secret) → ConsoleSession.
	bucketConsoleSessions = []byte("console_sessions")
)

// ConsoleUser is a person who signs in to the console. Role is one of the
// admin token kinds (TokenAdmin, TokenOperator, TokenBusinessAdmin).
type ConsoleUser struct {
	ID           string
	Name         string // as typed at sign-up; unique case-insensitively
	PasswordHash string // argon2id, PHC string format
	Role         string
	BusinessID   string // business admins only
	Disabled     bool
	CreatedAt    int64 // unix ms
	InvitedBy    string
}

// ConsoleLink is a one-time invitation (or setup) link: whoever redeems it
// before ExpiresAt becomes a console user with its role.
type ConsoleLink struct {
	Role       string
	BusinessID string
	ExpiresAt  int64 // unix ms
	CreatedBy  string
}

// ConsoleSession is a signed-in browser. The cookie holds the secret; only
// its hash is replicated, so any node accepts it and a copy of the state
// cannot be replayed as a cookie.
type ConsoleSession struct {
	UserID    string
	CreatedAt int64 // unix ms
	ExpiresAt int64 // unix ms
}

// ConsoleInvite is the payload of CmdConsoleInvite.
type ConsoleInvite struct {
	Hash [32]byte
	Link ConsoleLink
}

// ConsoleRedeem is the payload of CmdConsoleRedeem: the link is consumed
// and the user created in one step, as of At (unix ms, proposer's clock).
type ConsoleRedeem struct {
	LinkHash [32]byte
	User     ConsoleUser // ID, Name, PasswordHash, CreatedAt; role from the link
	At       int64
}

// ConsoleSignIn is the payload of CmdConsoleSignIn. It also drops the
// user's sessions that expired before At.
type ConsoleSignIn struct {
	Hash    [32]byte
	Session ConsoleSession
	At      int64
}

// ConsoleSignOut is the payload of CmdConsoleSignOut.
type ConsoleSignOut struct{ Hash [32]byte }

// ConsoleSetUser is the payload of CmdConsoleSetUser: disabling a user
// also ends every session of theirs.
type ConsoleSetUser struct {
	UserID   string
	Disabled bool
}

func consoleRoleValid(role, business string) bool {
	switch role {
	case TokenAdmin, TokenOperator:
		return business == ""
	case TokenBusinessAdmin:
		return business != ""
	}
	return false
}

func (f *FSM) applyConsoleInvite(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleInvite
	decode(payload, &c)
	if c.Hash == ([32]byte{}) || c.Link.ExpiresAt == 0 || !consoleRoleValid(c.Link.Role, c.Link.BusinessID) {
		return nil, domainErr(ErrInvalid, "console invitation needs a hash, an expiry and a valid role")
	}
	if c.Link.BusinessID != "" && tx.Bucket(bucketBusinesses).Get([]byte(c.Link.BusinessID)) == nil {
		return nil, domainErr(ErrNotFound, "business")
	}
	if tx.Bucket(bucketConsoleLinks).Get(c.Hash[:]) != nil {
		return nil, domainErr(ErrConflict, "console link exists")
	}
	mustPut(tx, bucketConsoleLinks, bytes.Clone(c.Hash[:]), marshal(c.Link))
	return nil, nil
}

func (f *FSM) applyConsoleRedeem(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleRedeem
	decode(payload, &c)
	v := tx.Bucket(bucketConsoleLinks).Get(c.LinkHash[:])
	if v == nil {
		return nil, domainErr(ErrNotFound, "console link")
	}
	var l ConsoleLink
	if err := unmarshal(v, &l); err != nil {
		return nil, err
	}
	if l.ExpiresAt <= c.At {
		return nil, domainErr(ErrNotFound, "console link expired")
	}
	u := c.User
	if u.ID == "" || u.Name == "" || u.PasswordHash == "" {
		return nil, domainErr(ErrInvalid, "console user needs an id, a name and a password")
	}
	name := []byte(lowerASCII(u.Name))
	if tx.Bucket(bucketConsoleNames).Get(name) != nil || tx.Bucket(bucketConsoleUsers).Get([]byte(u.ID)) != nil {
		return nil, domainErr(ErrConflict, "console user name taken")
	}
	if l.BusinessID != "" && tx.Bucket(bucketBusinesses).Get([]byte(l.BusinessID)) == nil {
		return nil, domainErr(ErrNotFound, "business")
	}
	u.Role, u.BusinessID, u.InvitedBy, u.Disabled = l.Role, l.BusinessID, l.CreatedBy, false
	mustDelete(tx, bucketConsoleLinks, bytes.Clone(c.LinkHash[:]))
	mustPut(tx, bucketConsoleUsers, []byte(u.ID), marshal(u))
	mustPut(tx, bucketConsoleNames, name, []byte(u.ID))
	return nil, nil
}

func (f *FSM) applyConsoleSignIn(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleSignIn
	decode(payload, &c)
	u, err := consoleUserTx(tx, c.Session.UserID)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, domainErr(ErrNotFound, "console user disabled")
	}
	if c.Hash == ([32]byte{}) || c.Session.ExpiresAt <= c.At {
		return nil, domainErr(ErrInvalid, "console session needs a hash and a future expiry")
	}
	if tx.Bucket(bucketConsoleSessions).Get(c.Hash[:]) != nil {
		return nil, domainErr(ErrConflict, "console session exists")
	}
	deleteConsoleSessions(tx, func(s ConsoleSession) bool { return s.UserID == u.ID && s.ExpiresAt <= c.At })
	mustPut(tx, bucketConsoleSessions, bytes.Clone(c.Hash[:]), marshal(c.Session))
	return nil, nil
}

func (f *FSM) applyConsoleSignOut(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleSignOut
	decode(payload, &c)
	if tx.Bucket(bucketConsoleSessions).Get(c.Hash[:]) == nil {
		return nil, domainErr(ErrNotFound, "console session")
	}
	mustDelete(tx, bucketConsoleSessions, bytes.Clone(c.Hash[:]))
	return nil, nil
}

func (f *FSM) applyConsoleSetUser(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleSetUser
	decode(payload, &c)
	u, err := consoleUserTx(tx, c.UserID)
	if err != nil {
		return nil, err
	}
	u.Disabled = c.Disabled
	mustPut(tx, bucketConsoleUsers, []byte(u.ID), marshal(u))
	if c.Disabled {
		deleteConsoleSessions(tx, func(s ConsoleSession) bool { return s.UserID == u.ID })
	}
	return nil, nil
}

// deleteConsoleSessions deletes the sessions drop selects (keys collected
// first: bbolt cursors must not see their own deletions).
func deleteConsoleSessions(tx *bolt.Tx, drop func(ConsoleSession) bool) {
	var keys [][]byte
	_ = tx.Bucket(bucketConsoleSessions).ForEach(func(k, v []byte) error {
		var s ConsoleSession
		if unmarshal(v, &s) == nil && drop(s) {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range keys {
		mustDelete(tx, bucketConsoleSessions, k)
	}
}

func consoleUserTx(tx *bolt.Tx, id string) (ConsoleUser, error) {
	var u ConsoleUser
	v := tx.Bucket(bucketConsoleUsers).Get([]byte(id))
	if v == nil {
		return u, domainErr(ErrNotFound, "console user")
	}
	return u, unmarshal(v, &u)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ConsoleUsers returns every console user in id order.
func (f *FSM) ConsoleUsers() ([]ConsoleUser, error) {
	var out []ConsoleUser
	err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConsoleUsers).ForEach(func(_, v []byte) error {
			var u ConsoleUser
			if err := unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}

// ConsoleUserByName returns the user of a name (any case); ErrNotFound
// when there is none.
func (f *FSM) ConsoleUserByName(name string) (ConsoleUser, error) {
	var u ConsoleUser
	err := f.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketConsoleNames).Get([]byte(lowerASCII(name)))
		if id == nil {
			return ErrNotFound
		}
		var err error
		u, err = consoleUserTx(tx, string(id))
		return err
	})
	return u, err
}

// ConsoleSessionUser returns the session of a secret's hash and its user;
// ErrNotFound when either is missing. Expiry and the disabled flag are the
// caller's to check (they depend on the caller's clock).
func (f *FSM) ConsoleSessionUser(hash [32]byte) (ConsoleSession, ConsoleUser, error) {
	var s ConsoleSession
	var u ConsoleUser
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketConsoleSessions).Get(hash[:])
		if v == nil {
			return ErrNotFound
		}
		if err := unmarshal(v, &s); err != nil {
			return err
		}
		var err error
		u, err = consoleUserTx(tx, s.UserID)
		return err
	})
	return s, u, err
}

// ConsoleLinkOf returns the unredeemed link of a secret's hash; ErrNotFound
// when there is none (expiry is the caller's to check).
func (f *FSM) ConsoleLinkOf(hash [32]byte) (ConsoleLink, error) {
	var l ConsoleLink
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketConsoleLinks).Get(hash[:])
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &l)
	})
	return l, err
}
