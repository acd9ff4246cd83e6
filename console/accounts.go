// Package console is the server side of waedge's web console: console
// users (invited by one-time link, argon2id passwords), sign-in with
// lockout, replicated sessions in cookies with CSRF tokens, and the
// bootstrap setup link. Every page's data comes from the admin and Graph
// API handlers themselves: a session cookie is one more way to present an
// admin-kind credential to them (package web), checked against the same
// role table.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/raftfsm"
)

// Errors of the account operations.
var (
	// ErrBadCredentials: unknown user, wrong password or disabled user
	// (deliberately one error).
	ErrBadCredentials = errors.New("console: wrong user name or password")
	// ErrLocked: too many failed sign-ins; try again later.
	ErrLocked = errors.New("console: sign-in locked")
	// ErrLinkInvalid: the invitation link is unknown, used or expired.
	ErrLinkInvalid = errors.New("console: invitation link invalid, used or expired")
	// ErrNameTaken: a console user with this name exists.
	ErrNameTaken = errors.New("console: user name taken")
	// ErrInvalid: a name, password or role that is not acceptable.
	ErrInvalid = errors.New("console: invalid value")
	// ErrNoSession: no session, an unknown or expired one.
	ErrNoSession = errors.New("console: not signed in")
	// ErrNotFound: no such console user or business.
	ErrNotFound = errors.New("console: not found")
)

// Defaults.
const (
	// DefaultSessionTTL is how long a session lasts after sign-in.
	DefaultSessionTTL = 12 * time.Hour
	// DefaultLinkTTL is how long an invitation or setup link is valid.
	DefaultLinkTTL = 24 * time.Hour
	// MinPassword is the shortest password accepted (NIST SP 800-63B).
	MinPassword = 12
)

// Config are the accounts' dependencies.
type Config struct {
	Cluster cluster.Cluster
	// Now is the clock (tests inject one).
	Now    func() time.Time
	Logger *slog.Logger
	// PublicURL is the base of the links handed out (web's --public-url).
	PublicURL  string
	SessionTTL time.Duration
	LinkTTL    time.Duration
}

// Accounts manages console users and sessions.
type Accounts struct {
	cfg   Config
	addrs *addressLimit
	dummy func() string // a hash checked when the name is unknown
}

// New returns the accounts service.
func New(cfg Config) *Accounts {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = DefaultLinkTTL
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Accounts{cfg: cfg, addrs: newAddressLimit(), dummy: sync.OnceValue(func() string {
		h, _ := hashPassword("waedge: no such user")
		return h
	})}
}

// User is a console user as shown to admins (never the password hash).
type User struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	BusinessID string `json:"business_id,omitempty"`
	Disabled   bool   `json:"disabled"`
	CreatedAt  int64  `json:"created_at"`
	InvitedBy  string `json:"invited_by,omitempty"`
}

func userOf(u raftfsm.ConsoleUser) User {
	return User{ID: u.ID, Name: u.Name, Role: u.Role, BusinessID: u.BusinessID, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt / 1000, InvitedBy: u.InvitedBy}
}

// Link is a freshly minted invitation: URL holds the secret (in its
// fragment, so it never reaches a server log or a Referer header).
type Link struct {
	URL        string `json:"url,omitempty"`
	Role       string `json:"role"`
	BusinessID string `json:"business_id,omitempty"`
	ExpiresAt  int64  `json:"expires_at"`
}

// secret returns a fresh random secret and its sha256.
func secret(prefix string) (string, [32]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [32]byte{}, err
	}
	s := prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return s, sha256.Sum256([]byte(s)), nil
}

func propose(ctx context.Context, c cluster.Cluster, t raftfsm.CommandType, payload any) error {
	cmd, err := raftfsm.EncodeCommand(t, payload)
	if err != nil {
		return err
	}
	_, err = raftfsm.Outcome(c.Propose(ctx, cmd))
	return err
}

// Invite mints a one-time link that makes whoever opens it first a console
// user with role (an admin token kind) — for a business admin, of
// businessID. createdBy is the inviting actor's id (audit trail).
func (a *Accounts) Invite(ctx context.Context, role, businessID, createdBy string) (Link, error) {
	switch role {
	case raftfsm.TokenAdmin, raftfsm.TokenOperator:
		if businessID != "" {
			return Link{}, fmt.Errorf("%w: only a business admin belongs to a business", ErrInvalid)
		}
	case raftfsm.TokenBusinessAdmin:
		if businessID == "" {
			return Link{}, fmt.Errorf("%w: a business admin needs business_id", ErrInvalid)
		}
	default:
		return Link{}, fmt.Errorf("%w: role must be admin, operator or business_admin", ErrInvalid)
	}
	s, hash, err := secret("wcl_")
	if err != nil {
		return Link{}, err
	}
	exp := a.cfg.Now().Add(a.cfg.LinkTTL)
	err = propose(ctx, a.cfg.Cluster, raftfsm.CmdConsoleInvite, raftfsm.ConsoleInvite{Hash: hash,
		Link: raftfsm.ConsoleLink{Role: role, BusinessID: businessID, ExpiresAt: exp.UnixMilli(), CreatedBy: createdBy}})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return Link{}, fmt.Errorf("%w: business", ErrNotFound)
	}
	if err != nil {
		return Link{}, err
	}
	return Link{URL: a.cfg.PublicURL + "/console/#accept=" + s, Role: role, BusinessID: businessID, ExpiresAt: exp.Unix()}, nil
}

// LinkInfo tells the page opened from a link which role it grants.
func (a *Accounts) LinkInfo(link string) (Link, error) {
	l, err := a.cfg.Cluster.FSM().ConsoleLinkOf(sha256.Sum256([]byte(link)))
	if err != nil || l.ExpiresAt <= a.cfg.Now().UnixMilli() {
		return Link{}, ErrLinkInvalid
	}
	return Link{Role: l.Role, BusinessID: l.BusinessID, ExpiresAt: l.ExpiresAt / 1000}, nil
}

// validName: 1–64 printable characters without spaces at either end.
func validName(name string) bool {
	if name == "" || len(name) > 64 || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Accept redeems a link: the user is created with name and password.
func (a *Accounts) Accept(ctx context.Context, link, name, password string) (User, error) {
	if !validName(name) {
		return User{}, fmt.Errorf("%w: a name of 1 to 64 characters", ErrInvalid)
	}
	if utf8.RuneCountInString(password) < MinPassword || len(password) > 1024 {
		return User{}, fmt.Errorf("%w: a password of at least %d characters", ErrInvalid, MinPassword)
	}
	if _, err := a.LinkInfo(link); err != nil {
		return User{}, err // before spending an argon2 hash on it
	}
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return User{}, err
	}
	now := a.cfg.Now()
	u := raftfsm.ConsoleUser{ID: "cu-" + hex.EncodeToString(id[:]), Name: name, PasswordHash: hash, CreatedAt: now.UnixMilli()}
	err = propose(ctx, a.cfg.Cluster, raftfsm.CmdConsoleRedeem, raftfsm.ConsoleRedeem{
		LinkHash: sha256.Sum256([]byte(link)), User: u, At: now.UnixMilli()})
	switch {
	case errors.Is(err, raftfsm.ErrConflict):
		return User{}, ErrNameTaken
	case errors.Is(err, raftfsm.ErrNotFound):
		return User{}, ErrLinkInvalid
	case err != nil:
		return User{}, err
	}
	stored, err := a.cfg.Cluster.FSM().ConsoleUserByName(name)
	if err != nil {
		return User{}, err
	}
	a.cfg.Logger.Info("console user created", slog.String("user_id", stored.ID), slog.String("role", stored.Role))
	return userOf(stored), nil
}

// Session is a signed-in user.
type Session struct {
	User      User
	ExpiresAt time.Time
	// CSRF is the token every state-changing request of this session must
	// carry in the X-CSRF-Token header.
	CSRF string
}

// csrfFor derives the CSRF token from the session secret: only a page that
// could read the session's answer (same origin) knows it, and nothing has
// to be stored for it.
func csrfFor(sessionSecret string) string {
	m := hmac.New(sha256.New, []byte(sessionSecret))
	m.Write([]byte("waedge console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the CSRF token of the session.
func CheckCSRF(sessionSecret, token string) bool {
	return token != "" && hmac.Equal([]byte(csrfFor(sessionSecret)), []byte(token))
}

// SignIn checks name and password (rate-limited per client address, and
// locked after MaxFailures wrong passwords in a row, counted cluster-wide
// before the password is checked) and starts a replicated session. It
// returns the cookie secret.
func (a *Accounts) SignIn(ctx context.Context, name, password, clientIP string) (string, Session, error) {
	now := a.cfg.Now()
	if ok, until := a.addrs.admit(clientIP, now); !ok {
		return "", Session{}, &LockedError{Until: until}
	}
	u, uerr := a.cfg.Cluster.FSM().ConsoleUserByName(name)
	if uerr != nil {
		u = raftfsm.ConsoleUser{} // unknown: counted as nobody, at the same cost
	}
	ok, until, err := a.countAttempt(ctx, u.ID, now)
	if err != nil {
		return "", Session{}, err
	}
	if !ok {
		return "", Session{}, &LockedError{Until: until}
	}
	if uerr != nil {
		checkPassword(a.dummy(), password)
		return "", Session{}, ErrBadCredentials
	}
	if !checkPassword(u.PasswordHash, password) || u.Disabled {
		return "", Session{}, ErrBadCredentials
	}
	if err := a.clearAttempts(ctx, u.ID); err != nil {
		return "", Session{}, err
	}
	s, hash, err := secret("wcs_")
	if err != nil {
		return "", Session{}, err
	}
	exp := now.Add(a.cfg.SessionTTL)
	err = propose(ctx, a.cfg.Cluster, raftfsm.CmdConsoleSignIn, raftfsm.ConsoleSignIn{Hash: hash, At: now.UnixMilli(),
		Session: raftfsm.ConsoleSession{UserID: u.ID, CreatedAt: now.UnixMilli(), ExpiresAt: exp.UnixMilli()}})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return "", Session{}, ErrBadCredentials // disabled meanwhile
	}
	if err != nil {
		return "", Session{}, err
	}
	a.cfg.Logger.Info("console sign-in", slog.String("user_id", u.ID), slog.String("role", u.Role))
	return s, Session{User: userOf(u), ExpiresAt: time.UnixMilli(exp.UnixMilli()), CSRF: csrfFor(s)}, nil
}

// LockedError is ErrLocked with the time sign-in may be tried again.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string { return ErrLocked.Error() }

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Session returns the session of a cookie secret: ErrNoSession when it is
// unknown, expired or its user disabled.
func (a *Accounts) Session(sessionSecret string) (Session, error) {
	if sessionSecret == "" {
		return Session{}, ErrNoSession
	}
	s, u, err := a.cfg.Cluster.FSM().ConsoleSessionUser(sha256.Sum256([]byte(sessionSecret)))
	if err != nil || u.Disabled || s.ExpiresAt <= a.cfg.Now().UnixMilli() {
		return Session{}, ErrNoSession
	}
	return Session{User: userOf(u), ExpiresAt: time.UnixMilli(s.ExpiresAt), CSRF: csrfFor(sessionSecret)}, nil
}

// Token is the admin-kind credential a session stands for: the same
// record an admin token resolves to, so the admin API's role table and
// audit log treat both alike (actor id "console:<user id>").
func (s Session) Token() raftfsm.Token {
	return raftfsm.Token{ID: "console:" + s.User.ID, Kind: s.User.Role, BusinessID: s.User.BusinessID}
}

// SignOut ends a session (an unknown one is not an error).
func (a *Accounts) SignOut(ctx context.Context, sessionSecret string) error {
	err := propose(ctx, a.cfg.Cluster, raftfsm.CmdConsoleSignOut, raftfsm.ConsoleSignOut{Hash: sha256.Sum256([]byte(sessionSecret))})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return nil
	}
	return err
}

// Users lists the console users.
func (a *Accounts) Users() ([]User, error) {
	us, err := a.cfg.Cluster.FSM().ConsoleUsers()
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(us))
	for _, u := range us {
		out = append(out, userOf(u))
	}
	return out, nil
}

// SetDisabled disables (ending every session of theirs) or re-enables a
// console user.
func (a *Accounts) SetDisabled(ctx context.Context, userID string, disabled bool) error {
	err := propose(ctx, a.cfg.Cluster, raftfsm.CmdConsoleSetUser, raftfsm.ConsoleSetUser{UserID: userID, Disabled: disabled})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return ErrNotFound
	}
	return err
}
