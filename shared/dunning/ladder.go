package dunning

import "dunlin/shared/civil"

// NoStep marks an invoice for which no step has been taken yet.
const NoStep = -1

// Done maps an invoice's recorded progress onto this policy: the last step
// taken, recorded as its index and offset, becomes the index of the last
// step at or before that offset. Offsets are unique and increasing, so
// progress survives edits to the policy (a step inserted, renamed or
// removed) without re-sending or skipping what came before.
func (p Policy) Done(step, offset int) int {
	if step < 0 {
		return NoStep
	}
	done := NoStep
	for i, st := range p.Steps {
		if st.OffsetDays <= offset {
			done = i
		}
	}
	return done
}

// StepDate is the civil date step i comes due for an invoice due on due.
func (p Policy) StepDate(due civil.Date, i int) civil.Date {
	return due.AddDays(p.Steps[i].OffsetDays)
}

// NextActionDate is when the step after done comes due, and false when the
// ladder is finished. The sweep's work queue is keyed by this date.
func (p Policy) NextActionDate(due civil.Date, done int) (civil.Date, bool) {
	if done+1 >= len(p.Steps) {
		return civil.Date{}, false
	}
	return p.StepDate(due, done+1), true
}

// DueStep returns the step to take today for an invoice whose last taken
// step is done: the latest step whose date has come, and false if none.
// After missed days (an outage, a pause) the skipped steps are passed over,
// so a customer gets one email in the tone that fits today, never a burst.
func (p Policy) DueStep(due civil.Date, done int, today civil.Date) (int, bool) {
	step := NoStep
	for i := done + 1; i < len(p.Steps); i++ {
		if p.StepDate(due, i).After(today) {
			break
		}
		step = i
	}
	return step, step != NoStep
}

// Scheduled is a step expected on a date.
type Scheduled struct {
	On   civil.Date
	Step int
}

// Upcoming lists the steps an invoice will take between from and to
// (inclusive), given the last step done: the latest step already due is
// taken on from (as the sweep would), then each later step on its date.
func (p Policy) Upcoming(due civil.Date, done int, from, to civil.Date) []Scheduled {
	var out []Scheduled
	if i, ok := p.DueStep(due, done, from); ok {
		out = append(out, Scheduled{On: from, Step: i})
		done = i
	}
	for i := done + 1; i < len(p.Steps); i++ {
		d := p.StepDate(due, i)
		if d.After(to) {
			break
		}
		out = append(out, Scheduled{On: d, Step: i})
	}
	return out
}
