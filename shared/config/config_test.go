package config

import (
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestSendingLimitsAreRead: the email cap and the SES send rate default
// sensibly, take good values, and refuse bad ones naming the variable.
func TestSendingLimitsAreRead(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{}))
	if err != nil || c.MaxEmailsPerRun != 1000 || c.SESMaxSendRate != 14 {
		t.Fatalf("defaults: cap %d, rate %v, %v; want 1000, 14", c.MaxEmailsPerRun, c.SESMaxSendRate, err)
	}
	c, err = FromLookup(lookup(map[string]string{"DUNLIN_MAX_EMAILS_PER_RUN": "50", "DUNLIN_SES_MAX_SEND_RATE": "0.5"}))
	if err != nil || c.MaxEmailsPerRun != 50 || c.SESMaxSendRate != 0.5 {
		t.Errorf("set: cap %d, rate %v, %v", c.MaxEmailsPerRun, c.SESMaxSendRate, err)
	}
	for name, v := range map[string]string{
		"DUNLIN_MAX_EMAILS_PER_RUN": "0", "DUNLIN_SES_MAX_SEND_RATE": "-1",
	} {
		for _, bad := range []string{v, "lots"} {
			if _, err := FromLookup(lookup(map[string]string{name: bad})); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v, want an error naming it", name, bad, err)
			}
		}
	}
}

// TestKeyCacheIsRead: API keys are trusted for 30 s by default, for as
// long as configured, or read on every request with 0.
func TestKeyCacheIsRead(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 30 * time.Second, "0": 0, "120": 2 * time.Minute} {
		c, err := FromLookup(lookup(map[string]string{"DUNLIN_KEY_CACHE_SECONDS": v}))
		if err != nil || c.KeyCache != want {
			t.Errorf("DUNLIN_KEY_CACHE_SECONDS=%q: %v, %v; want %v", v, c.KeyCache, err, want)
		}
	}
	for _, bad := range []string{"-1", "3601", "1m", "soon"} {
		if _, err := FromLookup(lookup(map[string]string{"DUNLIN_KEY_CACHE_SECONDS": bad})); err == nil || !strings.Contains(err.Error(), "DUNLIN_KEY_CACHE_SECONDS") {
			t.Errorf("DUNLIN_KEY_CACHE_SECONDS=%q: %v, want an error naming it", bad, err)
		}
	}
}

func TestDetailedMetricsIsRead(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "false": false} {
		c, err := FromLookup(lookup(map[string]string{"DUNLIN_DETAILED_METRICS": v}))
		if err != nil || c.DetailedMetrics != want {
			t.Errorf("DUNLIN_DETAILED_METRICS=%q: %v, %v; want %v", v, c.DetailedMetrics, err, want)
		}
	}
	if _, err := FromLookup(lookup(map[string]string{"DUNLIN_DETAILED_METRICS": "some"})); err == nil || !strings.Contains(err.Error(), "DUNLIN_DETAILED_METRICS") {
		t.Errorf("DUNLIN_DETAILED_METRICS=some: %v, want an error naming it", err)
	}
}
