package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Result is one line of the bench's output: a scenario at one setting.
// Fields keep their order, so the JSON object and the table read the same
// way every time.
type Result struct {
	Scenario string
	Fields   []Field
}

// Field is one named figure. A nil Value is printed as JSON null ("not
// measured", e.g. memory of a cluster the bench did not start).
type Field struct {
	Key   string
	Value any
}

func (r *Result) add(key string, v any) { r.Fields = append(r.Fields, Field{key, v}) }

// get returns the value of key, or nil.
func (r Result) get(key string) any {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// round keeps the figure readable: three decimals are below any precision
// a shared machine gives.
func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// MarshalJSON writes {"scenario":…, fields in order}.
func (r Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"scenario":`)
	s, _ := json.Marshal(r.Scenario)
	b.Write(s)
	for _, f := range r.Fields {
		k, _ := json.Marshal(f.Key)
		v := f.Value
		if x, ok := v.(float64); ok {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				v = nil
			} else {
				v = round(x)
			}
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Key, err)
		}
		b.WriteByte(',')
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSON prints one JSON object per result, one per line.
func writeJSON(w io.Writer, results []Result) error {
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// writeTable prints the results as one table per scenario, its columns
// the union of the results' fields in order of appearance.
func writeTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var scenario string
	var cols []string
	for i, r := range results {
		if i == 0 || r.Scenario != scenario {
			scenario = r.Scenario
			cols = nil
			seen := map[string]bool{}
			for _, o := range results[i:] {
				if o.Scenario != scenario {
					break
				}
				for _, f := range o.Fields {
					if !seen[f.Key] {
						seen[f.Key] = true
						cols = append(cols, f.Key)
					}
				}
			}
			if i > 0 {
				fmt.Fprintln(tw)
			}
			fmt.Fprintf(tw, "%s\t%s\t\n", "scenario", strings.Join(cols, "\t"))
		}
		cells := make([]string, len(cols))
		for j, c := range cols {
			cells[j] = cell(r.get(c))
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", r.Scenario, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case float64:
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return "-"
		case math.Abs(x) >= 100:
			return fmt.Sprintf("%.0f", x)
		case math.Abs(x) >= 10:
			return fmt.Sprintf("%.1f", x)
		default:
			return fmt.Sprintf("%.2f", x)
		}
	case []float64:
		s := make([]string, len(x))
		for i, f := range x {
			s[i] = cell(f)
		}
		return strings.Join(s, "/")
	default:
		return fmt.Sprint(x)
	}
}
