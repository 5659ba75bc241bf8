package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestARecordIsOneLineOfEMF: what CloudWatch reads back from the line is
// the namespace, one dimension set naming every dimension, each metric's
// name and unit under _aws, and the values and dimension values at the
// top level.
func TestARecordIsOneLineOfEMF(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	err := Record{Time: at, Dimensions: map[string]string{"Function": "sweep", "Tone": "firm"},
		Metrics: []Metric{{Name: "EmailsSent", Unit: Count, Value: 3}, {Name: "Duration", Unit: Milliseconds, Value: 1250.5}}}.Encode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("not one line: %q", line)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function, Tone       string
		EmailsSent, Duration float64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AWS.Timestamp != at.UnixMilli() || len(doc.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("_aws = %+v", doc.AWS)
	}
	d := doc.AWS.CloudWatchMetrics[0]
	if d.Namespace != "Dunlin" || len(d.Dimensions) != 1 || strings.Join(d.Dimensions[0], ",") != "Function,Tone" {
		t.Errorf("directive = %+v", d)
	}
	if len(d.Metrics) != 2 || d.Metrics[0].Name != "EmailsSent" || d.Metrics[0].Unit != "Count" || d.Metrics[1].Unit != "Milliseconds" {
		t.Errorf("metric definitions = %+v", d.Metrics)
	}
	if doc.Function != "sweep" || doc.Tone != "firm" || doc.EmailsSent != 3 || doc.Duration != 1250.5 {
		t.Errorf("values = %+v", doc)
	}
}

// TestWhatCloudWatchWouldDropIsRefused: a record CloudWatch would ignore
// (silently, in the logs) is an error here instead.
func TestWhatCloudWatchWouldDropIsRefused(t *testing.T) {
	many := make([]Metric, 101)
	for i := range many {
		many[i] = Metric{Name: strings.Repeat("m", i+1), Value: 1}
	}
	for name, r := range map[string]Record{
		"no metrics":           {Dimensions: map[string]string{"Function": "api"}},
		"101 metrics":          {Metrics: many},
		"a name used twice":    {Dimensions: map[string]string{"Sent": "x"}, Metrics: []Metric{{Name: "Sent", Value: 1}}},
		"a metric named twice": {Metrics: []Metric{{Name: "Sent", Value: 1}, {Name: "Sent", Value: 2}}},
		"an empty name":        {Metrics: []Metric{{Value: 1}}},
		"an empty dimension":   {Dimensions: map[string]string{"Tone": ""}, Metrics: []Metric{{Name: "Sent", Value: 1}}},
		"NaN":                  {Metrics: []Metric{{Name: "Sent", Value: math.NaN()}}},
		"infinity":             {Metrics: []Metric{{Name: "Sent", Value: math.Inf(1)}}},
	} {
		var buf bytes.Buffer
		if err := r.Encode(&buf); err == nil || buf.Len() != 0 {
			t.Errorf("%s: %v, wrote %q; want refused, nothing written", name, err, buf.String())
		}
	}
}

// TestRollupsAreMoreDimensionSets: a record's rollups are listed after its
// full dimension set, so CloudWatch publishes the metric under each; a
// rollup naming a dimension the record lacks is refused.
func TestRollupsAreMoreDimensionSets(t *testing.T) {
	var buf bytes.Buffer
	r := Record{Dimensions: map[string]string{"Function": "webhooks", "Provider": "stripe", "Outcome": "applied"},
		Rollups: [][]string{{"Function", "Outcome"}}, Metrics: []Metric{{Name: "WebhookEvents", Unit: Count, Value: 1}}}
	if err := r.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct{ Dimensions [][]string }
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.AWS.CloudWatchMetrics[0].Dimensions
	if len(got) != 2 || strings.Join(got[0], ",") != "Function,Outcome,Provider" || strings.Join(got[1], ",") != "Function,Outcome" {
		t.Errorf("dimension sets = %v", got)
	}
	buf.Reset()
	r.Rollups = [][]string{{"Function", "Tone"}}
	if err := r.Encode(&buf); err == nil || buf.Len() != 0 {
		t.Errorf("a rollup of a missing dimension: %v, wrote %q", err, buf.String())
	}
}

// TestOnlyKeepsTheChosenMetricsAndDimensionSets: a metric is kept under
// the dimension sets the filter accepts, each as a record of its own, and
// a record with nothing kept is dropped.
func TestOnlyKeepsTheChosenMetricsAndDimensionSets(t *testing.T) {
	recs := []Record{
		{Dimensions: map[string]string{"Function": "webhooks", "Provider": "stripe", "Outcome": "failed"},
			Rollups: [][]string{{"Outcome", "Function"}},
			Metrics: []Metric{{Name: "WebhookEvents", Value: 1}, {Name: "Other", Value: 2}}},
		{Dimensions: map[string]string{"Function": "sweep"}, Metrics: []Metric{{Name: "SweepDuration", Value: 3}}},
	}
	got := Only(recs, func(m string, dims map[string]string) bool {
		return m == "WebhookEvents" && len(dims) == 2 && dims["Function"] == "webhooks" && dims["Outcome"] == "failed"
	})
	if len(got) != 1 || len(got[0].Metrics) != 1 || got[0].Metrics[0].Name != "WebhookEvents" ||
		len(got[0].Dimensions) != 2 || got[0].Dimensions["Outcome"] != "failed" || got[0].Rollups != nil {
		t.Fatalf("Only = %+v", got)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Keep = func(m string, _ map[string]string) bool { return m == "SweepDuration" }
	if err := w.Write(recs...); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), `"SweepDuration":3`) || strings.Contains(buf.String(), "WebhookEvents") {
		t.Errorf("a writer with Keep wrote:\n%s", buf.String())
	}
}
