// Package dunning holds the rules for chasing money: a policy is an ordered
// ladder of steps, each a number of days from the due date, with a tone and
// actions. The package decides, from plain values, which step is due for an
// invoice on a given day, how a day's steps for one customer become one
// email, and whether pressure limits allow sending. It imports nothing from
// AWS; the sweep (package sweep) does the I/O.
package dunning

import (
	"fmt"
	"slices"
	"strings"

	"dunlin/shared/apperr"
)

// Tone is how an email reads. Tones are ordered by severity.
type Tone string

const (
	Friendly   Tone = "friendly"   // before the due date: a courtesy reminder
	Reminder   Tone = "reminder"   // just overdue: probably an oversight
	Firm       Tone = "firm"       // a week overdue: please pay now
	Final      Tone = "final"      // final notice, factual consequences
	Escalation Tone = "escalation" // internal: hand to legal or an agency
)

var severity = map[Tone]int{Friendly: 1, Reminder: 2, Firm: 3, Final: 4, Escalation: 5}

// Severity orders tones; unknown tones are 0.
func (t Tone) Severity() int { return severity[t] }

// Tones lists the tones in order of severity.
var Tones = []Tone{Friendly, Reminder, Firm, Final, Escalation}

// Step is one rung of the ladder.
type Step struct {
	Name       string `json:"name"`
	OffsetDays int    `json:"offset_days"` // from the due date; negative is before it
	Tone       Tone   `json:"tone"`
	// Actions. Escalate replaces the customer email with an internal one to
	// the firm's collections address.
	Email      bool `json:"email"`
	CreditHold bool `json:"credit_hold"`
	Escalate   bool `json:"escalate"`
	// RequiresApproval: the sweep drafts the email; it goes out only when
	// someone approves it (POST /v1/dunning/drafts/...), and expires unsent.
	RequiresApproval bool `json:"requires_approval"`
	// Fee, if set, is added to the invoice when this step is taken, once.
	Fee *Fee `json:"fee,omitempty"`
}

// Policy is a named ladder and the pressure limits that go with it.
type Policy struct {
	Name  string `json:"name"`
	Steps []Step `json:"steps"`
	// WeeklyCap is the most emails one customer gets in any 7 days.
	WeeklyCap int `json:"weekly_cap"`
	// MaxUnanswered, when above zero, stops emailing a customer after that
	// many emails with no response (a payment, a promise, a reply or call
	// logged) in between; a person takes over, told by an internal email.
	// Zero, the default, lets the ladder run to its end.
	MaxUnanswered int `json:"max_unanswered"`
	// Grades are the credit grades (A-D) whose customers get this policy
	// when they are not assigned one by name: a gentler ladder for A, a
	// stricter one for D. A grade belongs to at most one policy.
	Grades []string `json:"grades,omitempty"`
}

// DefaultPolicyName is the policy customers get unless assigned another.
const DefaultPolicyName = "standard"

// Standard is the default ladder: a friendly note three days before the due
// date, then a reminder, a firm letter, a final notice with a credit hold,
// and after a month an internal escalation instead of a fifth email.
func Standard() Policy {
	return Policy{
		Name: DefaultPolicyName,
		Steps: []Step{
			{Name: "upcoming", OffsetDays: -3, Tone: Friendly, Email: true},
			{Name: "overdue", OffsetDays: 1, Tone: Reminder, Email: true},
			{Name: "second", OffsetDays: 7, Tone: Firm, Email: true},
			{Name: "final", OffsetDays: 14, Tone: Final, Email: true, CreditHold: true},
			{Name: "escalate", OffsetDays: 30, Tone: Escalation, Escalate: true},
		},
		WeeklyCap: 2,
	}
}

// Validate checks a policy: named, steps named uniquely, offsets strictly
// increasing (the ladder only goes up), known tones, sane limits.
func (p *Policy) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 64 || strings.ContainsAny(p.Name, "#/ ") {
		return apperr.Invalidf("name", "name is required: up to 64 characters, no spaces, '#' or '/'")
	}
	if len(p.Steps) == 0 || len(p.Steps) > 20 {
		return apperr.Invalidf("steps", "a policy has 1 to 20 steps")
	}
	seen := map[string]bool{}
	for i, s := range p.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if s.Name == "" || len(s.Name) > 64 || strings.ContainsAny(s.Name, "#/ ") || seen[s.Name] {
			return apperr.Invalidf(field+".name", "each step needs a unique name: up to 64 characters, no spaces, '#' or '/'")
		}
		seen[s.Name] = true
		if s.Tone.Severity() == 0 {
			return apperr.Invalidf(field+".tone", "tone must be friendly, reminder, firm, final or escalation")
		}
		if s.OffsetDays < -60 || s.OffsetDays > 365 {
			return apperr.Invalidf(field+".offset_days", "offset_days must be between -60 and 365")
		}
		if i > 0 && s.OffsetDays <= p.Steps[i-1].OffsetDays {
			return apperr.Invalidf(field+".offset_days", "offset_days must increase from step to step")
		}
		if s.Email && s.Escalate {
			return apperr.Invalidf(field+".escalate", "a step either emails the customer or escalates internally, not both")
		}
		if !s.Email && !s.Escalate {
			return apperr.Invalidf(field, "a step must email the customer or escalate internally")
		}
		if s.Fee != nil {
			if s.OffsetDays <= 0 {
				return apperr.Invalidf(field+".fee", "a late fee can only be on a step after the due date")
			}
			if err := s.Fee.Validate(field + ".fee"); err != nil {
				return err
			}
		}
	}
	if p.WeeklyCap < 1 || p.WeeklyCap > 7 {
		return apperr.Invalidf("weekly_cap", "weekly_cap must be between 1 and 7")
	}
	if p.MaxUnanswered < 0 || p.MaxUnanswered > 50 {
		return apperr.Invalidf("max_unanswered", "max_unanswered must be between 0 (off) and 50")
	}
	for i, g := range p.Grades {
		if len(g) != 1 || !strings.Contains("ABCD", g) || slices.Contains(p.Grades[:i], g) {
			return apperr.Invalidf(fmt.Sprintf("grades[%d]", i), "grades are A, B, C or D, each at most once")
		}
	}
	return nil
}

// ForGrade picks, from policies, the one that claims grade; nil if none.
func ForGrade(policies []*Policy, grade string) *Policy {
	for _, p := range policies {
		if grade != "" && slices.Contains(p.Grades, grade) {
			return p
		}
	}
	return nil
}
