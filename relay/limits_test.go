package relay

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/network"
)

// TestPreKeyDrainLimited: 200 rapid bundle fetches from one device get BundleDeviceBurst bundles
// (the rest are refused as rate-limited), of which only BundleTargetBurst carry a one-time prekey;
// a second device still gets bundles but no one-time key while the target's budget is spent; the
// budgets refill with time. The clock is the relay's, frozen and moved by the test.
func TestPreKeyDrainLimited(t *testing.T) {
	var offset atomic.Int64
	base := time.Now()
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	tr := startRelay(t, Config{DataDir: t.TempDir(), Now: now})
	biz := newTestDevice(t, "15550004000", 100, network.RoleBusiness)
	bc := registered(t, tr.url, biz)
	ctx := ctxT(t)

	fetch := func(c interface {
		FetchBundle(context.Context, string) (network.PreKeyBundle, error)
	}, n int) (bundles, oneTime int) {
		t.Helper()
		for i := 0; i < n; i++ {
			b, err := c.FetchBundle(ctx, biz.number)
			switch {
			case isErr(err, network.ErrRateLimited):
			case err != nil:
				t.Fatal(err)
			default:
				bundles++
				if b.PreKeyID != 0 {
					oneTime++
				}
				if len(b.SignedPreKey) == 0 || b.IdentityKey == nil {
					t.Fatal("bundle without its signed prekey")
				}
			}
		}
		return bundles, oneTime
	}
	d1 := newTestDevice(t, "4915100004001", 0, network.RolePhone)
	first := registered(t, tr.url, d1)
	if b, k := fetch(first, 200); b != BundleDeviceBurst || k != BundleTargetBurst {
		t.Fatalf("200 fetches from one device: %d bundles, %d one-time keys; want %d and %d", b, k, BundleDeviceBurst, BundleTargetBurst)
	}
	second := registered(t, tr.url, newTestDevice(t, "4915100004002", 0, network.RolePhone))
	if b, k := fetch(second, 50); b != 50 || k != 0 {
		t.Fatalf("another device: %d bundles, %d one-time keys; want 50 and 0", b, k)
	}
	if n, _ := bc.PreKeyCount(ctx, biz.number); n != 100-BundleTargetBurst {
		t.Fatalf("%d one-time prekeys left, want %d", n, 100-BundleTargetBurst)
	}
	// A new connection of the first device does not get a fresh budget.
	relog := dial(t, tr.url, new(signers).add(d1))
	if err := relog.Login(ctx, d1.number); err != nil {
		t.Fatal(err)
	}
	if _, err := relog.FetchBundle(ctx, biz.number); !isErr(err, network.ErrRateLimited) {
		t.Fatalf("fetch after reconnecting: %v, want rate limited", err)
	}
	// Time refills both budgets at their rates.
	offset.Add(int64(5 * time.Second))
	wantKeys := int(5 * BundleTargetRate)
	if b, k := fetch(second, 20); b != 20 || k != wantKeys {
		t.Fatalf("after 5 s: %d bundles, %d one-time keys; want 20 and %d", b, k, wantKeys)
	}
}
