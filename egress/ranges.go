package egress

import "net/netip"

// class is a refused address range and what it is.
type class struct {
	prefix netip.Prefix
	name   string
}

func mustClasses(pairs ...string) []class {
	out := make([]class, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, class{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// refused4 are the IPv4 ranges that are not the public Internet.
var refused4 = mustClasses(
	"0.0.0.0/8", "unspecified (this network)",
	"10.0.0.0/8", "private (RFC 1918)",
	"100.64.0.0/10", "shared address space (CGNAT)",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local (cloud metadata)",
	"172.16.0.0/12", "private (RFC 1918)",
	"192.0.0.0/24", "IETF protocol assignments",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "6to4 relay anycast",
	"192.168.0.0/16", "private (RFC 1918)",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"240.0.0.0/4", "reserved (incl. broadcast)",
)

// refused6 are the IPv6 ranges that are not the public Internet. IPv4-mapped
// addresses are unmapped before; NAT64 and 6to4 forms are judged by the
// IPv4 address they embed (embedded4).
var refused6 = mustClasses(
	"::/128", "unspecified",
	"::1/128", "loopback",
	"::/96", "IPv4-compatible (deprecated)",
	"::ffff:0:0:0/96", "IPv4-translated",
	"64:ff9b:1::/48", "local-use NAT64",
	"100::/64", "discard-only",
	"2001::/32", "Teredo",
	"2001:2::/48", "benchmarking",
	"2001:db8::/32", "documentation",
	"3fff::/20", "documentation",
	"5f00::/16", "segment routing",
	"fc00::/7", "unique local (ULA)",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local (deprecated)",
	"ff00::/8", "multicast",
)

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	classes = map[bool][]class{true: refused4, false: refused6}
)

// Internal names the refused class ip belongs to ("" for a public address).
// IPv4-mapped IPv6 is judged as the IPv4 address it maps.
func Internal(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return "invalid"
	}
	if v4, ok := embedded4(ip); ok {
		if c := Internal(v4); c != "" {
			return c + " (embedded in " + ip.String() + ")"
		}
		return ""
	}
	for _, c := range classes[ip.Is4()] {
		if c.prefix.Contains(ip) {
			return c.name
		}
	}
	return ""
}

// embedded4 extracts the IPv4 address a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address carries.
func embedded4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case ip.Is4():
		return netip.Addr{}, false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
