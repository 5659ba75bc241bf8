// Package metrics writes CloudWatch metrics in the embedded metric format
// (EMF): one JSON object per line on a function's standard output, from
// which CloudWatch Logs extracts the metrics. No API call, no permission
// beyond writing logs, and the numbers sit beside the logs they explain.
//
// The format is specified at
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"
)

// Namespace is where Dunlin's metrics are in CloudWatch.
const Namespace = "Dunlin"

// Unit is a CloudWatch unit.
type Unit string

// The units Dunlin uses.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	None         Unit = "None"
)

// Metric is one value.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Record is one EMF document: metrics that share one set of dimensions.
type Record struct {
	Time       time.Time
	Dimensions map[string]string // e.g. {"Function": "sweep", "Tone": "firm"}
	// Rollups are more dimension sets, each a subset of Dimensions' names:
	// CloudWatch publishes the metrics under each too, so an alarm can
	// watch a total (every webhook rejected, whatever its event type)
	// without metric math over every combination.
	Rollups [][]string
	Metrics []Metric
}

// The specification's limits.
const (
	maxMetrics    = 100
	maxDimensions = 30
)

// Encode writes r as one line of EMF JSON. It refuses what CloudWatch
// would drop silently: no metrics, too many, a name used twice (as a
// metric and a dimension, say), an empty name, or a value that is not a
// finite number.
func (r Record) Encode(w io.Writer) error {
	if len(r.Metrics) == 0 || len(r.Metrics) > maxMetrics {
		return fmt.Errorf("metrics: a record holds 1 to %d metrics, not %d", maxMetrics, len(r.Metrics))
	}
	if len(r.Dimensions) > maxDimensions {
		return fmt.Errorf("metrics: a record holds at most %d dimensions, not %d", maxDimensions, len(r.Dimensions))
	}
	doc := map[string]any{}
	dims := make([]string, 0, len(r.Dimensions))
	for k, v := range r.Dimensions {
		if k == "" || k == "_aws" || v == "" {
			return fmt.Errorf("metrics: dimension %q=%q: names and values must not be empty", k, v)
		}
		doc[k] = v
		dims = append(dims, k)
	}
	sort.Strings(dims)
	sets := [][]string{dims}
	for _, set := range r.Rollups {
		for _, name := range set {
			if _, ok := r.Dimensions[name]; !ok {
				return fmt.Errorf("metrics: rollup %v names %q, which is not a dimension of the record", set, name)
			}
		}
		sets = append(sets, set)
	}
	defs := make([]map[string]string, 0, len(r.Metrics))
	for _, m := range r.Metrics {
		if m.Name == "" || m.Name == "_aws" {
			return fmt.Errorf("metrics: a metric needs a name")
		}
		if _, taken := doc[m.Name]; taken {
			return fmt.Errorf("metrics: %q is used twice in one record", m.Name)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return fmt.Errorf("metrics: %s is %v, not a number CloudWatch takes", m.Name, m.Value)
		}
		unit := m.Unit
		if unit == "" {
			unit = None
		}
		doc[m.Name] = m.Value
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": string(unit)})
	}
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": sets,
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Writer writes records to one output, a line at a time, from any
// goroutine.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	// Keep, when set, says which metrics are published under which
	// dimensions (names and values); the rest are not written. Each metric
	// and set of dimension values is billed as a custom metric.
	Keep func(metric string, dims map[string]string) bool
}

// Only returns the records with just the metrics and dimension sets keep
// accepts: one record per dimension set kept, without rollups.
func Only(records []Record, keep func(metric string, dims map[string]string) bool) []Record {
	var out []Record
	for _, r := range records {
		names := make([]string, 0, len(r.Dimensions))
		for k := range r.Dimensions {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, set := range append([][]string{names}, r.Rollups...) {
			dims := make(map[string]string, len(set))
			for _, name := range set {
				dims[name] = r.Dimensions[name]
			}
			var kept []Metric
			for _, m := range r.Metrics {
				if keep(m.Name, dims) {
					kept = append(kept, m)
				}
			}
			if len(kept) > 0 {
				out = append(out, Record{Time: r.Time, Dimensions: dims, Metrics: kept})
			}
		}
	}
	return out
}

// NewWriter writes to out: in Lambda, standard output.
func NewWriter(out io.Writer) *Writer { return &Writer{out: out} }

// Write encodes the records in order; it stops at the first error.
func (w *Writer) Write(records ...Record) error {
	if w == nil {
		return nil
	}
	if w.Keep != nil {
		records = Only(records, w.Keep)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range records {
		if err := r.Encode(w.out); err != nil {
			return err
		}
	}
	return nil
}
