package dunning

import (
	"testing"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
)

func TestStandardLadderDayByDay(t *testing.T) {
	p := Standard()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	due := civil.MustParse("2026-12-01")
	done := NoStep
	var got []string
	for d := due.AddDays(-10); !d.After(due.AddDays(40)); d = d.AddDays(1) {
		if i, ok := p.DueStep(due, done, d); ok {
			got = append(got, d.String()+" "+p.Steps[i].Name)
			done = i
		}
	}
	want := []string{"2026-11-28 upcoming", "2026-12-02 overdue", "2026-12-08 second", "2026-12-15 final", "2026-12-31 escalate"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if _, ok := p.NextActionDate(due, done); ok {
		t.Error("a finished ladder still has a next action")
	}
}

func TestAfterAnOutageOnlyTheLatestDueStepIsTaken(t *testing.T) {
	p := Standard()
	due := civil.MustParse("2026-12-01")
	// The reminder went out on the 2nd, then nothing ran until the 16th:
	// second (8th) and final (15th) are both due; only final is taken.
	i, ok := p.DueStep(due, 1, civil.MustParse("2026-12-16"))
	if !ok || p.Steps[i].Name != "final" {
		t.Fatalf("got step %d (%v)", i, ok)
	}
	if next, _ := p.NextActionDate(due, i); next.String() != "2026-12-31" {
		t.Errorf("next action %s", next)
	}
	if _, ok := p.DueStep(due, 1, civil.MustParse("2026-12-07")); ok {
		t.Error("a step is due before its date")
	}
}

func TestPolicyValidationNamesTheField(t *testing.T) {
	cases := map[string]func(*Policy){
		"name":                 func(p *Policy) { p.Name = "" },
		"steps":                func(p *Policy) { p.Steps = nil },
		"steps[1].offset_days": func(p *Policy) { p.Steps[1].OffsetDays = -3 },
		"steps[2].tone":        func(p *Policy) { p.Steps[2].Tone = "angry" },
		"steps[3].name":        func(p *Policy) { p.Steps[3].Name = p.Steps[0].Name },
		"steps[4].escalate":    func(p *Policy) { p.Steps[4].Email = true },
		"steps[0]":             func(p *Policy) { p.Steps[0].Email = false },
		"weekly_cap":           func(p *Policy) { p.WeeklyCap = 0 },
		"steps[0].offset_days": func(p *Policy) { p.Steps[0].OffsetDays = -100 },
	}
	for field, breakIt := range cases {
		p := Standard()
		breakIt(&p)
		err := p.Validate()
		if e, ok := apperr.As(err); !ok || e.Field != field {
			t.Errorf("breaking %s gave %v", field, err)
		}
	}
}

func TestUpcomingTakesTheDueStepNowThenEachOnItsDate(t *testing.T) {
	p := Standard()
	due := civil.MustParse("2026-12-01")
	got := p.Upcoming(due, 0, civil.MustParse("2026-12-09"), civil.MustParse("2026-12-20"))
	// overdue (Dec 2) and second (Dec 8) have both come: second is taken now.
	want := []Scheduled{{civil.MustParse("2026-12-09"), 2}, {civil.MustParse("2026-12-15"), 3}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := p.Upcoming(due, 4, civil.MustParse("2027-01-01"), civil.MustParse("2027-02-01")); len(got) != 0 {
		t.Errorf("a finished ladder has upcoming steps %v", got)
	}
}
