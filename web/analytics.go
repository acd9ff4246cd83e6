package web

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/billing"
	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// fieldExpr is one entry of a Graph fields= list: a name with optional
// modifiers, e.g. analytics.start(1).end(2).granularity(DAY).
type fieldExpr struct {
	name   string
	params map[string]string
}

// parseFields parses a Graph fields= expression strictly: the top level
// through cloudapi.ParseFields, then each field's .modifier(argument)
// parts; a modifier may appear once.
func parseFields(s string) ([]fieldExpr, error) {
	bad := func(format string, args ...any) error {
		return graph.ErrInvalidParameter.Withf("fields: "+format, args...)
	}
	fields, err := cloudapi.ParseFields(s)
	if err != nil {
		return nil, err
	}
	out := make([]fieldExpr, 0, len(fields.Names()))
	for _, name := range fields.Names() {
		if !isIdent(name) {
			return nil, bad("%q is not a field name", name)
		}
		fe := fieldExpr{name: name, params: map[string]string{}}
		expr := name + fields.Spec(name)
		for rest := fields.Spec(name); rest != ""; {
			if rest[0] != '.' {
				return nil, bad("expected '.' in %q", expr)
			}
			open := strings.IndexByte(rest, '(')
			if open < 0 {
				return nil, bad("modifier without argument in %q", expr)
			}
			mod := rest[1:open]
			// the matching parenthesis
			d, end := 0, -1
			for i := open; i < len(rest); i++ {
				if rest[i] == '(' || rest[i] == '[' {
					d++
				} else if rest[i] == ')' || rest[i] == ']' {
					d--
					if d == 0 {
						end = i
						break
					}
				}
			}
			if !isIdent(mod) || end < 0 {
				return nil, bad("malformed modifier in %q", expr)
			}
			if _, dup := fe.params[mod]; dup {
				return nil, bad("modifier %s given twice", mod)
			}
			fe.params[mod] = rest[open+1 : end]
			rest = rest[end+1:]
		}
		out = append(out, fe)
	}
	return out, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// analyticsQuery is the common part of analytics and conversation_analytics.
type analyticsQuery struct {
	start, end  int64 // unix seconds, [start, end)
	granularity string
	phones      []raftfsm.Phone // the WABA's numbers asked for
	dimensions  map[string]bool
}

// maxPeriods bounds the data points of one query.
const maxPeriods = 1000

func (g *graphAPI) analyticsQuery(f fieldExpr, wabaPhones []raftfsm.Phone, grans map[string]bool, extra ...string) (analyticsQuery, error) {
	q := analyticsQuery{dimensions: map[string]bool{}}
	bad := func(format string, args ...any) error {
		return graph.ErrInvalidParameter.Withf(f.name+": "+format, args...)
	}
	allowed := map[string]bool{"start": true, "end": true, "granularity": true, "phone_numbers": true}
	for _, e := range extra {
		allowed[e] = true
	}
	for k := range f.params {
		if !allowed[k] {
			return q, bad("unknown modifier %s", k)
		}
	}
	for _, k := range []string{"start", "end", "granularity"} {
		if _, ok := f.params[k]; !ok {
			return q, bad("%s is required", k)
		}
	}
	var err1, err2 error
	q.start, err1 = strconv.ParseInt(f.params["start"], 10, 64)
	q.end, err2 = strconv.ParseInt(f.params["end"], 10, 64)
	if err1 != nil || err2 != nil || q.start < 0 || q.end <= q.start {
		return q, bad("start and end must be Unix timestamps with start < end")
	}
	q.granularity = f.params["granularity"]
	if !grans[q.granularity] {
		keys := make([]string, 0, len(grans))
		for k := range grans {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return q, bad("granularity must be one of %s (counters are daily)", strings.Join(keys, ", "))
	}
	q.phones = wabaPhones
	if raw, ok := f.params["phone_numbers"]; ok {
		var nums []string
		if err := json.Unmarshal([]byte(raw), &nums); err != nil {
			return q, bad("phone_numbers must be a JSON array of phone numbers")
		}
		want := map[string]bool{}
		for _, n := range nums {
			want[cloudapi.NormalizePhone(n)] = true
		}
		q.phones = nil
		for _, p := range wabaPhones {
			if want[cloudapi.NormalizePhone(p.DisplayPhoneNumber)] {
				q.phones = append(q.phones, p)
			}
		}
		if len(nums) > 0 && len(q.phones) == 0 {
			q.phones = []raftfsm.Phone{} // nothing of this WABA matched
		}
	}
	if raw, ok := f.params["dimensions"]; ok {
		var dims []string
		if err := json.Unmarshal([]byte(strings.ReplaceAll(raw, "'", "\"")), &dims); err != nil {
			return q, bad("dimensions must be a JSON array")
		}
		for _, d := range dims {
			d = strings.ToUpper(d)
			if d != "PHONE" && d != "CONVERSATION_CATEGORY" {
				return q, bad("dimension %s is not available (PHONE, CONVERSATION_CATEGORY)", d)
			}
			q.dimensions[d] = true
		}
	}
	if len(periods(q.start, q.end, q.granularity)) > maxPeriods {
		return q, bad("the range has more than %d periods", maxPeriods)
	}
	return q, nil
}

// period is one data point's [start, end) in Unix seconds and its days.
type period struct {
	start, end int64
	from, to   string // first and last day, YYYY-MM-DD
}

// periods splits [start, end) into UTC days or months (aligned).
func periods(start, end int64, granularity string) []period {
	var out []period
	t := time.Unix(start, 0).UTC()
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	monthly := granularity == "MONTH" || granularity == "MONTHLY"
	if monthly {
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	for t.Unix() < end && len(out) <= maxPeriods {
		next := t.AddDate(0, 0, 1)
		if monthly {
			next = t.AddDate(0, 1, 0)
		}
		out = append(out, period{start: t.Unix(), end: next.Unix(), from: t.Format(time.DateOnly),
			to: next.Add(-time.Second).Format(time.DateOnly)})
		t = next
	}
	return out
}

func phoneIDs(ps []raftfsm.Phone) []string {
	ids := make([]string, 0, len(ps))
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

// analyticsView answers the analytics field: sent and delivered outbound
// messages per period (Meta's shape: phone_numbers, granularity,
// data_points[{start,end,sent,delivered}]).
func (g *graphAPI) analyticsView(q analyticsQuery) (fiber.Map, error) {
	ps := periods(q.start, q.end, q.granularity)
	nums := make([]string, 0, len(q.phones))
	for _, p := range q.phones {
		nums = append(nums, cloudapi.NormalizePhone(p.DisplayPhoneNumber))
	}
	points := make([]fiber.Map, 0, len(ps))
	rows, err := g.d.Cluster.FSM().Stats(phoneIDs(q.phones), ps[0].from, ps[len(ps)-1].to)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		var sent, delivered int64
		for _, r := range rows {
			if r.Day < p.from || r.Day > p.to || r.Direction != raftfsm.DirectionOut {
				continue
			}
			switch r.Status {
			case raftfsm.StatusSent:
				sent += r.Count
			case raftfsm.StatusDelivered:
				delivered += r.Count
			}
		}
		points = append(points, fiber.Map{"start": p.start, "end": p.end, "sent": sent, "delivered": delivered})
	}
	return fiber.Map{"phone_numbers": nums, "granularity": q.granularity, "data_points": points}, nil
}

// pricedStatsInput is what the priced analytics read: the rate card,
// each phone's display number and the daily counters of the query's
// phones over its periods.
type pricedStatsInput struct {
	rates   billing.Rates
	display map[string]string
	rows    []raftfsm.StatRow
}

// pricedStats reads the periods of a query and what pricing them needs.
func (g *graphAPI) pricedStats(q analyticsQuery) ([]period, pricedStatsInput, error) {
	ps := periods(q.start, q.end, q.granularity)
	var in pricedStatsInput
	var err error
	if in.rates, err = g.rateCard(); err != nil {
		return nil, in, err
	}
	in.display = map[string]string{}
	for _, p := range q.phones {
		in.display[p.ID] = cloudapi.NormalizePhone(p.DisplayPhoneNumber)
	}
	in.rows, err = g.d.Cluster.FSM().Stats(phoneIDs(q.phones), ps[0].from, ps[len(ps)-1].to)
	return ps, in, err
}

// conversationAnalyticsView answers conversation_analytics in the
// per-message pricing model: "conversation" counts delivered messages of a
// pricing category, "cost" prices them with the rate card. Data points
// split by phone and category when dimensions ask for it; empty points are
// left out, as Meta does.
func (g *graphAPI) conversationAnalyticsView(q analyticsQuery) (fiber.Map, error) {
	ps, in, err := g.pricedStats(q)
	if err != nil {
		return nil, err
	}
	rates, display, rows := in.rates, in.display, in.rows
	points := []fiber.Map{}
	for _, p := range ps {
		type key struct{ phone, category string }
		sums := map[key]int64{}
		var keys []key
		for _, r := range rows {
			if r.Day < p.from || r.Day > p.to || r.Direction != raftfsm.DirectionOut || r.Status != raftfsm.StatusDelivered {
				continue
			}
			k := key{}
			if q.dimensions["PHONE"] {
				k.phone = display[r.PhoneNumberID]
			}
			if q.dimensions["CONVERSATION_CATEGORY"] {
				k.category = r.Category
			}
			if _, ok := sums[k]; !ok {
				keys = append(keys, k)
			}
			sums[k] += r.Count
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].phone != keys[j].phone {
				return keys[i].phone < keys[j].phone
			}
			return keys[i].category < keys[j].category
		})
		for _, k := range keys {
			n := sums[k]
			var cost int64
			if k.category != "" {
				cost = n * rates.Micros[k.category]
			} else {
				// cost without the category dimension: price each row
				for _, r := range rows {
					if r.Day >= p.from && r.Day <= p.to && r.Direction == raftfsm.DirectionOut &&
						r.Status == raftfsm.StatusDelivered && (k.phone == "" || display[r.PhoneNumberID] == k.phone) {
						cost += r.Count * rates.Micros[r.Category]
					}
				}
			}
			c, _ := strconv.ParseFloat(billing.FormatMicros(cost), 64)
			pt := fiber.Map{"start": p.start, "end": p.end, "conversation": n, "cost": c}
			if k.phone != "" {
				pt["phone_number"] = k.phone
			}
			if k.category != "" {
				pt["conversation_category"] = strings.ToUpper(k.category)
			}
			points = append(points, pt)
		}
	}
	return fiber.Map{"data": []fiber.Map{{"data_points": points}}}, nil
}

// wabaView answers GET /{waba-id}: id and name by default; fields= may ask
// for analytics, conversation_analytics, pricing_analytics and
// template_analytics. An unknown field or a
// malformed expression is error 100.
func (g *graphAPI) wabaView(c *fiber.Ctx, w raftfsm.WABA) error {
	fields := c.Query("fields")
	if fields == "" {
		return c.JSON(fiber.Map{"id": w.ID, "name": w.Name})
	}
	exprs, err := parseFields(fields)
	if err != nil {
		return err
	}
	phones, err := g.d.Cluster.FSM().PhonesOfWABA(w.ID)
	if err != nil {
		return err
	}
	sort.Slice(phones, func(i, j int) bool { return phones[i].ID < phones[j].ID })
	out := fiber.Map{"id": w.ID}
	for _, f := range exprs {
		switch f.name {
		case "id":
		case "name":
			out["name"] = w.Name
		case "analytics":
			q, err := g.analyticsQuery(f, phones, map[string]bool{"DAY": true, "MONTH": true})
			if err != nil {
				return err
			}
			v, err := g.analyticsView(q)
			if err != nil {
				return err
			}
			out["analytics"] = v
		case "conversation_analytics":
			q, err := g.analyticsQuery(f, phones, map[string]bool{"DAILY": true, "MONTHLY": true}, "dimensions")
			if err != nil {
				return err
			}
			v, err := g.conversationAnalyticsView(q)
			if err != nil {
				return err
			}
			out["conversation_analytics"] = v
		case "template_analytics":
			v, err := g.templateAnalyticsField(w, f)
			if err != nil {
				return err
			}
			out["template_analytics"] = v
		case "pricing_analytics":
			q, err := g.parsePricingQuery(f, phones)
			if err != nil {
				return err
			}
			v, err := g.pricingAnalyticsView(q)
			if err != nil {
				return err
			}
			out["pricing_analytics"] = v
		default:
			if v, ok := wabaField(f.name, w, phones); ok {
				out[f.name] = v
				break
			}
			return graph.ErrInvalidParameter.Withf("Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessAccount)", f.name)
		}
		if len(f.params) > 0 && !slices.Contains([]string{"analytics", "conversation_analytics", "pricing_analytics", "template_analytics"}, f.name) {
			return graph.ErrInvalidParameter.Withf("field %s takes no modifiers", f.name)
		}
	}
	return c.JSON(out)
}
