package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/emails"
	"dunlin/shared/sweep"
)

func (s *Server) disputeInvoice(r *http.Request, body []byte) (int, any, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	inv, err := s.billing.DisputeInvoice(r.Context(), r.PathValue("id"), in.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toInvoiceJSON(inv, s.billing.Now()), nil
}

func (s *Server) resolveDispute(r *http.Request, _ []byte) (int, any, error) {
	inv, err := s.billing.ResolveDispute(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toInvoiceJSON(inv, s.billing.Now()), nil
}

func (s *Server) pauseCustomer(r *http.Request, body []byte) (int, any, error) {
	var in billing.PauseInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.billing.PauseCustomer(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

func (s *Server) resumeCustomer(r *http.Request, _ []byte) (int, any, error) {
	c, err := s.billing.ResumeCustomer(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

type contactJSON struct {
	At         time.Time `json:"at"`
	Channel    string    `json:"channel"`
	Summary    string    `json:"summary"`
	Ref        *string   `json:"ref"`
	Direction  string    `json:"direction"`
	Outcome    *string   `json:"outcome"`
	Reason     *string   `json:"reason"`
	FollowUpOn *string   `json:"follow_up_on"`
}

func (s *Server) listContacts(r *http.Request, _ []byte) (int, any, error) {
	limit, cursor, err := pageParams(r) // a bad request is refused before any read
	if err != nil {
		return 0, nil, err
	}
	c, err := s.billing.GetCustomer(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if cursor != "" {
		return 0, nil, apperr.Field(apperr.BadRequest, "cursor", "the contact log is not paged: it returns the latest entries, up to limit")
	}
	contacts, err := s.policies.ListContacts(r.Context(), c.ID, limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]*billing.Contact, len(contacts))
	for i := range contacts {
		out[i] = &contacts[i]
	}
	return http.StatusOK, toList(out, "", toContactJSON), nil
}

func toContactJSON(c *billing.Contact) contactJSON {
	dir := c.Direction
	if dir == "" {
		dir = "outbound" // emails the sweep sent
	}
	return contactJSON{At: c.At, Channel: c.Channel, Summary: c.Summary, Ref: nullable(c.Ref), Direction: dir,
		Outcome: nullable(c.Outcome), Reason: nullable(c.Reason), FollowUpOn: nullable(c.FollowUpOn.String())}
}

func (s *Server) logContact(r *http.Request, body []byte) (int, any, error) {
	var in billing.ContactInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.billing.LogContact(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toContactJSON(c), nil
}

func (s *Server) listPolicies(r *http.Request, _ []byte) (int, any, error) {
	ps, err := s.policies.ListPolicies(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(ps, "", func(p *dunning.Policy) dunning.Policy { return *p }), nil
}

func (s *Server) getPolicy(r *http.Request, _ []byte) (int, any, error) {
	p, err := s.policies.GetPolicy(r.Context(), r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}

// putPolicy creates or replaces a policy. The name comes from the path.
// Changes take effect at each invoice's next scheduled action.
func (s *Server) putPolicy(r *http.Request, body []byte) (int, any, error) {
	var p dunning.Policy
	if err := decode(body, &p); err != nil {
		return 0, nil, err
	}
	if p.Name != "" && p.Name != r.PathValue("name") {
		return 0, nil, apperr.Invalidf("name", "name %q differs from the path's %q", p.Name, r.PathValue("name"))
	}
	p.Name = r.PathValue("name")
	if p.WeeklyCap == 0 {
		p.WeeklyCap = dunning.Standard().WeeklyCap
	}
	if err := p.Validate(); err != nil {
		return 0, nil, err
	}
	if len(p.Grades) > 0 {
		// A grade picks one ladder: another policy claiming it is a conflict
		// (two simultaneous claims can both pass; the sweep then takes the
		// first by name, and the list shows both).
		all, err := s.policies.ListPolicies(r.Context())
		if err != nil {
			return 0, nil, err
		}
		for _, other := range all {
			for _, g := range p.Grades {
				if other.Name != p.Name && slices.Contains(other.Grades, g) {
					return 0, nil, apperr.Field(apperr.Conflict, "grades", "grade %s already belongs to policy %q", g, other.Name)
				}
			}
		}
	}
	if err := s.policies.PutPolicy(r.Context(), &p, s.now().UTC()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}

// instant reads ?now= (RFC 3339), defaulting to the clock.
func (s *Server) instant(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("now")
	if v == "" {
		return s.now(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apperr.Field(apperr.BadRequest, "now", "now must be RFC 3339, e.g. 2026-12-21T10:00:00+08:00")
	}
	return t, nil
}

type previewJSON struct {
	Now     time.Time       `json:"now"`
	Emails  []sweep.Planned `json:"emails"`
	Summary sweep.Summary   `json:"summary"`
}

func (s *Server) previewDunning(r *http.Request, _ []byte) (int, any, error) {
	now, err := s.instant(r)
	if err != nil {
		return 0, nil, err
	}
	planned, sum, err := s.sweeper.Preview(r.Context(), now)
	if err != nil {
		return 0, nil, err
	}
	if sum.Skipped == nil {
		sum.Skipped = map[string]int{}
	}
	return http.StatusOK, previewJSON{Now: now, Emails: planned, Summary: sum}, nil
}

func (s *Server) forecastDunning(r *http.Request, _ []byte) (int, any, error) {
	days := 14
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 90 {
			return 0, nil, apperr.Field(apperr.BadRequest, "days", "days must be a whole number from 1 to 90")
		}
		days = n
	}
	now, err := s.instant(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := s.sweeper.Forecast(r.Context(), now, days)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"days": days, "data": f}, nil
}

type templateJSON struct {
	Language string          `json:"language"`
	Tone     dunning.Tone    `json:"tone"`
	Phrases  emails.Phrases  `json:"phrases"` // what emails use now
	Default  emails.Phrases  `json:"default"` // Dunlin's own wording
	Custom   *emails.Phrases `json:"custom"`  // the firm's override, if any
}

// templateParams reads {language} and {tone} from the path.
func templateParams(r *http.Request) (string, dunning.Tone, error) {
	lang, tone := r.PathValue("language"), dunning.Tone(r.PathValue("tone"))
	if lang != "en" && lang != "zh-CN" {
		return "", "", apperr.NotFoundf("no wording for language %q (en or zh-CN)", lang)
	}
	if tone.Severity() == 0 {
		return "", "", apperr.NotFoundf("no tone %q (friendly, reminder, firm, final or escalation)", tone)
	}
	return lang, tone, nil
}

func (s *Server) templateView(r *http.Request, lang string, tone dunning.Tone) (templateJSON, error) {
	def, err := emails.Default(lang, tone)
	if err != nil {
		return templateJSON{}, err
	}
	ov, err := s.policies.GetOverrides(r.Context(), lang)
	if err != nil {
		return templateJSON{}, err
	}
	out := templateJSON{Language: lang, Tone: tone, Phrases: def, Default: def}
	if p, ok := ov[tone]; ok {
		out.Custom = &p
		for _, f := range []struct {
			dst *string
			src string
		}{{&out.Phrases.Subject, p.Subject}, {&out.Phrases.Intro, p.Intro}, {&out.Phrases.Closing, p.Closing}} {
			if f.src != "" {
				*f.dst = f.src
			}
		}
	}
	return out, nil
}

func (s *Server) getTemplate(r *http.Request, _ []byte) (int, any, error) {
	lang, tone, err := templateParams(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.templateView(r, lang, tone)
	return http.StatusOK, v, err
}

// putTemplate saves the firm's wording for a tone after checking that each
// phrase parses and renders; an empty phrase keeps Dunlin's.
func (s *Server) putTemplate(r *http.Request, body []byte) (int, any, error) {
	lang, tone, err := templateParams(r)
	if err != nil {
		return 0, nil, err
	}
	var p emails.Phrases
	if err := decode(body, &p); err != nil {
		return 0, nil, err
	}
	if field, err := emails.CheckOverride(lang, p); err != nil {
		return 0, nil, apperr.Invalidf(field, "%v", err)
	}
	if p == (emails.Phrases{}) {
		err = s.policies.DeleteOverride(r.Context(), lang, tone)
	} else {
		err = s.policies.PutOverride(r.Context(), lang, tone, p, s.now().UTC())
	}
	if err != nil {
		return 0, nil, err
	}
	v, err := s.templateView(r, lang, tone)
	return http.StatusOK, v, err
}

func (s *Server) deleteTemplate(r *http.Request, _ []byte) (int, any, error) {
	lang, tone, err := templateParams(r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.policies.DeleteOverride(r.Context(), lang, tone); err != nil {
		return 0, nil, err
	}
	v, err := s.templateView(r, lang, tone)
	return http.StatusOK, v, err
}

// previewTemplate renders a tone with sample data and the firm's wording.
func (s *Server) previewTemplate(r *http.Request, _ []byte) (int, any, error) {
	lang, tone, err := templateParams(r)
	if err != nil {
		return 0, nil, err
	}
	ov, err := s.policies.GetOverrides(r.Context(), lang)
	if err != nil {
		return 0, nil, err
	}
	e, err := emails.RenderWith(lang, tone, emails.Sample(lang), ov)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"subject": e.Subject, "html": e.HTML, "text": e.Text}, nil
}

type draftJSON struct {
	CustomerID string           `json:"customer_id"`
	Day        string           `json:"day"`
	Kind       dunning.SendKind `json:"kind"`
	Tone       dunning.Tone     `json:"tone"`
	To         []string         `json:"to"`
	Subject    string           `json:"subject"`
	Steps      []map[string]any `json:"invoices"`
	CreatedAt  time.Time        `json:"created_at"`
	ExpiresAt  time.Time        `json:"expires_at"`
	Expired    bool             `json:"expired"`
	Approve    string           `json:"approve_path"`
}

func toDraftJSON(d *dunning.Send, now time.Time) draftJSON {
	out := draftJSON{CustomerID: d.CustomerID, Day: d.Day.String(), Kind: d.Kind, Tone: d.Tone, To: d.To, Subject: d.Subject,
		CreatedAt: d.ClaimedAt, ExpiresAt: d.ClaimedAt.Add(dunning.DraftTTL), Expired: d.Expired(now),
		Approve: "/v1/dunning/drafts/" + d.CustomerID + "/" + d.Day.String() + "/" + string(d.Kind) + "/approve"}
	if out.To == nil {
		out.To = []string{}
	}
	out.Steps = []map[string]any{}
	for _, st := range d.Steps {
		out.Steps = append(out.Steps, map[string]any{"invoice_id": st.InvoiceID, "step": st.StepName})
	}
	return out
}

func (s *Server) listDrafts(r *http.Request, _ []byte) (int, any, error) {
	drafts, err := s.sweeper.Drafts(r.Context())
	if err != nil {
		return 0, nil, err
	}
	now := s.now()
	return http.StatusOK, toList(drafts, "", func(d *dunning.Send) draftJSON { return toDraftJSON(d, now) }), nil
}

// approveDraft sends a drafted email now, inside the customer's window.
func (s *Server) approveDraft(r *http.Request, _ []byte) (int, any, error) {
	day, err := civil.Parse(r.PathValue("day"))
	if err != nil {
		return 0, nil, apperr.NotFoundf("no draft on %q", r.PathValue("day"))
	}
	kind := dunning.SendKind(r.PathValue("kind"))
	if kind != dunning.ToCustomer && kind != dunning.Internal {
		return 0, nil, apperr.NotFoundf("no draft of kind %q", kind)
	}
	snd, sum, err := s.sweeper.ApproveDraft(r.Context(), s.now(), r.PathValue("customer_id"), day, kind)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"status": snd.Status, "message_id": nullable(snd.MessageID), "sent": sum.Sent}, nil
}

func (s *Server) waiveFee(r *http.Request, body []byte) (int, any, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	inv, err := s.billing.WaiveFee(r.Context(), r.PathValue("id"), r.PathValue("step"), in.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toInvoiceJSON(inv, s.billing.Now()), nil
}

func (s *Server) makePlan(r *http.Request, body []byte) (int, any, error) {
	var in billing.PlanInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	inv, err := s.billing.MakePlan(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toInvoiceJSON(inv, s.billing.Now()), nil
}
