package raftfsm

import (
	"crypto/subtle"

	bolt "go.etcd.io/bbolt"
)

// Typed readers. Each runs in one read-only transaction and returns
// copies: bbolt memory is valid only inside the transaction, and the
// msgpack decoder copies strings and byte slices out of it. The hot ones
// (LookupToken, Tenant, Phone, TemplateByName) read the read model
// instead (readmodel.go): the same values, from memory.

// LookupToken finds a token by the sha256 of its value. The stored hash is
// confirmed with a constant-time compare. ErrNotFound when absent.
func (f *FSM) LookupToken(hash [32]byte) (Token, error) {
	m := f.model()
	if m == nil {
		return Token{}, ErrClosed
	}
	m.mu.RLock()
	rec, ok := m.tokens.entries[string(hash[:])]
	m.mu.RUnlock()
	switch {
	case !ok:
		return Token{}, ErrNotFound
	case rec.err != nil:
		return Token{}, rec.err
	case subtle.ConstantTimeCompare(rec.val.Hash[:], hash[:]) != 1:
		return Token{}, ErrNotFound
	}
	return rec.val, nil
}

// tenantFrom assembles a Tenant around a phone record; appOf finds the
// business's app.
func tenantFrom(tx *bolt.Tx, p Phone, appOf func(businessID string) string) (Tenant, error) {
	t := Tenant{PhoneNumberID: p.ID, WABAID: p.WABAID, BusinessID: p.BusinessID,
		DisplayPhoneNumber: p.DisplayPhoneNumber, VerifiedName: p.VerifiedName, CreatedAt: p.CreatedAt,
		AppID: appOf(p.BusinessID)}
	if v := tx.Bucket(bucketBusinesses).Get([]byte(p.BusinessID)); v != nil {
		var b Business
		if err := unmarshal(v, &b); err != nil {
			return t, err
		}
		t.BusinessName = b.Name
	}
	if v := tx.Bucket(bucketWABAs).Get([]byte(p.WABAID)); v != nil {
		var w WABA
		if err := unmarshal(v, &w); err != nil {
			return t, err
		}
		t.WABAName = w.Name
	}
	return t, nil
}

// Tenant returns the tenant of a phone-number id (ErrNotFound when absent).
func (f *FSM) Tenant(phoneNumberID string) (Tenant, error) {
	m := f.model()
	if m == nil {
		return Tenant{}, ErrClosed
	}
	m.mu.RLock()
	rec, ok := m.tenants[phoneNumberID]
	m.mu.RUnlock()
	if !ok {
		return Tenant{}, ErrNotFound
	}
	return rec.t, rec.err
}

// ListTenants returns every tenant ordered by phone-number id.
func (f *FSM) ListTenants() ([]Tenant, error) {
	return f.tenants(func(Phone) bool { return true })
}

// TenantsByBusiness returns the tenants of one business ordered by
// phone-number id (empty when it has none).
func (f *FSM) TenantsByBusiness(businessID string) ([]Tenant, error) {
	return f.tenants(func(p Phone) bool { return p.BusinessID == businessID })
}

func (f *FSM) tenants(keep func(Phone) bool) ([]Tenant, error) {
	var out []Tenant
	err := f.View(func(tx *bolt.Tx) error {
		apps := map[string]string{}
		err := tx.Bucket(bucketApps).ForEach(func(_, v []byte) error {
			var a App
			if err := unmarshal(v, &a); err != nil {
				return err
			}
			if _, ok := apps[a.BusinessID]; !ok {
				apps[a.BusinessID] = a.ID
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketPhones).ForEach(func(_, v []byte) error {
			var p Phone
			if err := unmarshal(v, &p); err != nil {
				return err
			}
			if !keep(p) {
				return nil
			}
			t, err := tenantFrom(tx, p, func(b string) string { return apps[b] })
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// App returns an app record (with its secret; never log it).
func (f *FSM) App(appID string) (App, error) {
	var a App
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketApps).Get([]byte(appID))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &a)
	})
	return a, err
}

// ClusterValue returns a copy of a cluster-wide value (ErrNotFound when
// absent).
func (f *FSM) ClusterValue(key string) ([]byte, error) {
	var out []byte
	err := f.View(func(tx *bolt.Tx) error {
		out = get(tx, bucketCluster, []byte(key))
		if out == nil {
			return ErrNotFound
		}
		return nil
	})
	return out, err
}

// IsMemberAllowed reports whether nodeID may take part in the cluster: it
// is false once the node was removed (CmdRemoveMember) and true again after
// it is readmitted with a new join token. A node that never joined (the
// bootstrap node) is allowed: admission itself is checked by the join
// protocol, this only answers "was it thrown out?". On a closed FSM it
// answers false.
func (f *FSM) IsMemberAllowed(nodeID string) bool {
	allowed := false
	_ = f.View(func(tx *bolt.Tx) error {
		allowed = nodeID != "" && tx.Bucket(bucketRemoved).Get([]byte(nodeID)) == nil
		return nil
	})
	return allowed
}

// IsMemberRemoved reports whether nodeID was removed from the cluster (and
// not readmitted with a new join token since).
func (f *FSM) IsMemberRemoved(nodeID string) bool {
	removed := false
	_ = f.View(func(tx *bolt.Tx) error {
		removed = tx.Bucket(bucketRemoved).Get([]byte(nodeID)) != nil
		return nil
	})
	return removed
}

// Members returns the node ids admitted with a join token and not removed
// since, in id order.
func (f *FSM) Members() ([]string, error) {
	var out []string
	err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMembers).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// JoinTokenInfo returns a stored join token (ErrNotFound when absent).
func (f *FSM) JoinTokenInfo(id string) (JoinTokenInfo, error) {
	var info JoinTokenInfo
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJoinTokens).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &info)
	})
	return info, err
}

// Business returns a business record (ErrNotFound when absent).
func (f *FSM) Business(id string) (Business, error) {
	var b Business
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBusinesses).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &b)
	})
	return b, err
}
