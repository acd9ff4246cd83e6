// Package billing prices delivered template messages with a rate card, the
// Cloud API's per-message pricing model (docs/cloud-api.md §7): per business
// and month, delivered template messages by pricing category multiplied by
// the category's rate. It computes from raftfsm's statistics counters and
// holds no state of its own; the rate card is a cluster value.
package billing

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/waedge/waedge/raftfsm"
)

// ClusterKey is the cluster value holding the rate card (JSON).
const ClusterKey = "billing.rates"

// ErrInvalidRates: a rate card that does not parse or has unknown
// categories, negative or absurd rates, or a bad currency.
var ErrInvalidRates = errors.New("invalid rate card")

// Categories are the pricing categories a rate card may price, in report
// order.
var categories = []string{raftfsm.CategoryMarketing, raftfsm.CategoryUtility, raftfsm.CategoryAuthentication, raftfsm.CategoryService}

// maxRate bounds one rate (per message), in currency units.
const maxRate = 1000

// Rates is a rate card: the price of one delivered message per pricing
// category, in millionths of Currency (integers, so amounts add up
// exactly).
type Rates struct {
	Currency string
	Micros   map[string]int64
}

// DefaultCurrency is the currency of a card that names none.
const DefaultCurrency = "USD"

// ParseRates parses the admin API's rate card body:
// {"currency":"USD","marketing":0.05,"utility":0.01,"authentication":0.02}.
// A category left out costs nothing.
func ParseRates(body []byte) (Rates, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Rates{}, fmt.Errorf("%w: %v", ErrInvalidRates, err)
	}
	r := Rates{Currency: DefaultCurrency, Micros: map[string]int64{}}
	for k, v := range raw {
		if k == "currency" {
			var cur string
			if err := json.Unmarshal(v, &cur); err != nil || len(cur) != 3 || strings.ToUpper(cur) != cur || !isLetters(cur) {
				return Rates{}, fmt.Errorf("%w: currency must be an ISO 4217 code such as USD", ErrInvalidRates)
			}
			r.Currency = cur
			continue
		}
		if !known(k) {
			return Rates{}, fmt.Errorf("%w: unknown category %q (want marketing, utility, authentication or service)", ErrInvalidRates, k)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
		if err != nil || f < 0 || f > maxRate || math.IsNaN(f) {
			return Rates{}, fmt.Errorf("%w: %s must be a number from 0 to %d", ErrInvalidRates, k, maxRate)
		}
		r.Micros[k] = int64(math.Round(f * 1e6))
	}
	return r, nil
}

func isLetters(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func known(c string) bool {
	for _, k := range categories {
		if k == c {
			return true
		}
	}
	return false
}

// MarshalJSON renders the card in ParseRates' shape.
func (r Rates) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{%q:%q", "currency", r.Currency)
	for _, c := range categories {
		if m, ok := r.Micros[c]; ok {
			fmt.Fprintf(&b, ",%q:%s", c, FormatMicros(m))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// DecodeRates decodes a stored card; absent (nil) is an empty card.
func DecodeRates(stored []byte) (Rates, error) {
	if len(stored) == 0 {
		return Rates{Currency: DefaultCurrency, Micros: map[string]int64{}}, nil
	}
	return ParseRates(stored)
}

// FormatMicros renders millionths as a decimal ("0.05", "12", "0.000001").
func FormatMicros(m int64) string {
	neg := m < 0
	if neg {
		m = -m
	}
	s := strconv.FormatInt(m/1e6, 10)
	if frac := m % 1e6; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Line is one billed category of one business and month.
type Line struct {
	Business  string `json:"business"`
	Month     string `json:"month"`
	Category  string `json:"category"`
	Delivered int64  `json:"delivered"`
	Rate      string `json:"rate"`
	Amount    string `json:"amount"`
}

// Report is the bill of one or more businesses for one month.
type Report struct {
	Month    string `json:"month"`
	Currency string `json:"currency"`
	Lines    []Line `json:"lines"`
	Total    string `json:"total"`
}

// Compute bills month (YYYY-MM) from statistics rows. phoneBusiness maps
// each phone number to its business (rows of other phones are ignored).
// Billed: template messages that reached delivered (a read counts as
// delivered, and is counted once) on a day of the month, per business and
// pricing category; service messages are not template messages.
func Compute(rows []raftfsm.StatRow, phoneBusiness map[string]string, month string, r Rates) Report {
	type key struct{ business, category string }
	sums := map[key]int64{}
	for _, row := range rows {
		b, ok := phoneBusiness[row.PhoneNumberID]
		if !ok || !strings.HasPrefix(row.Day, month+"-") || row.Direction != raftfsm.DirectionOut ||
			row.Status != raftfsm.StatusDelivered || row.Type != "template" {
			continue
		}
		sums[key{b, row.Category}] += row.Count
	}
	rep := Report{Month: month, Currency: r.Currency, Lines: []Line{}}
	var total int64
	for k, n := range sums {
		rate := r.Micros[k.category]
		amt := n * rate
		total += amt
		rep.Lines = append(rep.Lines, Line{Business: k.business, Month: month, Category: k.category, Delivered: n,
			Rate: FormatMicros(rate), Amount: FormatMicros(amt)})
	}
	order := func(c string) int {
		for i, k := range categories {
			if k == c {
				return i
			}
		}
		return len(categories)
	}
	sort.Slice(rep.Lines, func(i, j int) bool {
		a, b := rep.Lines[i], rep.Lines[j]
		if a.Business != b.Business {
			return a.Business < b.Business
		}
		return order(a.Category) < order(b.Category)
	})
	rep.Total = FormatMicros(total)
	return rep
}

// WriteCSV writes the report as CSV with the header business, month,
// category, delivered, rate, amount, currency.
func (rep Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"business", "month", "category", "delivered", "rate", "amount", "currency"})
	for _, l := range rep.Lines {
		_ = cw.Write([]string{l.Business, l.Month, l.Category, strconv.FormatInt(l.Delivered, 10), l.Rate, l.Amount, rep.Currency})
	}
	cw.Flush()
	return cw.Error()
}

// ValidMonth reports whether s is YYYY-MM.
func ValidMonth(s string) bool {
	if len(s) != 7 || s[4] != '-' {
		return false
	}
	y, err1 := strconv.Atoi(s[:4])
	m, err2 := strconv.Atoi(s[5:])
	return err1 == nil && err2 == nil && y >= 1970 && m >= 1 && m <= 12
}
