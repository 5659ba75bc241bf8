package api

import (
	"math"
	"net/http"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/ids"
)

func (s *Server) makePromise(r *http.Request, body []byte) (int, any, error) {
	var in billing.PromiseInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	p, err := s.billing.MakePromise(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toPromiseJSON(p), nil
}

func (s *Server) listPromises(r *http.Request, _ []byte) (int, any, error) {
	ps, err := s.billing.ListPromises(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(ps, "", toPromiseJSON), nil
}

func (s *Server) listAlerts(r *http.Request, _ []byte) (int, any, error) {
	cid := r.URL.Query().Get("customer_id")
	if cid != "" && !ids.Valid("cus_", cid) {
		return 0, nil, apperr.Field(apperr.BadRequest, "customer_id", "customer_id %q is not a customer id", cid)
	}
	as, err := s.billing.ListAlerts(r.Context(), r.URL.Query().Get("state"), cid)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(as, "", toAlertJSON), nil
}

func (s *Server) alertState(state string) handlerFunc {
	return func(r *http.Request, _ []byte) (int, any, error) {
		a, err := s.billing.SetAlertState(r.Context(), r.PathValue("id"), state)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, toAlertJSON(a), nil
	}
}

type promiseJSON struct {
	ID               string     `json:"id"`
	CustomerID       string     `json:"customer_id"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	PromisedOn       string     `json:"promised_on"`
	GraceDays        int        `json:"grace_days"`
	CheckOn          string     `json:"check_on"` // when the sweep decides kept or broken
	InvoiceIDs       []string   `json:"invoice_ids"`
	BalanceAtPromise int64      `json:"balance_at_promise"`
	TakenBy          *string    `json:"taken_by"`
	Channel          string     `json:"channel"`
	Note             *string    `json:"note"`
	State            string     `json:"state"`
	CreatedAt        time.Time  `json:"created_at"`
	ResolvedAt       *time.Time `json:"resolved_at"`
}

func (p promiseJSON) location() string { return "/v1/customers/" + p.CustomerID + "/promises" }

func toPromiseJSON(p *billing.Promise) promiseJSON {
	return promiseJSON{ID: p.ID, CustomerID: p.CustomerID, Amount: p.Amount, Currency: p.Currency, PromisedOn: p.PromisedOn.String(),
		GraceDays: p.GraceDays, CheckOn: p.CheckOn().String(), InvoiceIDs: p.InvoiceIDs, BalanceAtPromise: p.BalanceAtPromise,
		TakenBy: nullable(p.TakenBy), Channel: p.Channel, Note: nullable(p.Note), State: string(p.State), CreatedAt: p.CreatedAt, ResolvedAt: p.ResolvedAt}
}

type alertJSON struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Kind       string    `json:"kind"`
	State      string    `json:"state"`
	Message    string    `json:"message"`
	Ref        *string   `json:"ref"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func toAlertJSON(a *billing.Alert) alertJSON {
	return alertJSON{ID: a.ID, CustomerID: a.CustomerID, Kind: a.Kind, State: a.State, Message: a.Message, Ref: nullable(a.Ref),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

func (s *Server) holdCustomer(r *http.Request, body []byte) (int, any, error) {
	var in billing.HoldInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.billing.PutOnHold(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

func (s *Server) releaseHold(r *http.Request, _ []byte) (int, any, error) {
	c, err := s.billing.ReleaseHold(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

func (s *Server) creditFile(r *http.Request, _ []byte) (int, any, error) {
	f, err := s.billing.CustomerCreditFile(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	c := f.Customer
	out := creditFileJSON{
		CustomerID: c.ID, Currency: c.Currency, PaymentTermsDays: c.PaymentTermsDays, CreditLimit: c.CreditLimit,
		Exposure: f.Balance.Exposure, Overdue: f.Balance.Overdue, Credit: f.Balance.Credit, Headroom: f.Headroom,
		CreditHold: c.CreditHold, HoldReason: nullable(c.HoldReason), Paused: c.Paused || len(c.DisputeHolds) > 0, PauseReason: nullable(pauseReason(c)),
		Score: f.Score.Score, Grade: f.Score.Grade, Factors: []scoreFactorJSON{},
		OnTimeStreak: f.OnTimeStreak, AvgDaysLate: math.Round(f.AvgDaysLate*10) / 10, WorstDaysLate: f.WorstDaysLate, SettledLast12Months: f.Settled12m,
		OpenPromises: []promiseJSON{}, OpenPlans: []openPlanJSON{}, OpenDisputes: f.OpenDisputes, LastContacts: []contactJSON{},
		Suggested: suggestionJSON{CreditLimit: f.Suggested.CreditLimit, PaymentTermsDays: f.Suggested.TermsDays, Explain: f.Suggested.Explain},
	}
	for _, inv := range f.OpenPlans {
		today := civil.Today(s.billing.Now(), billing.Location(inv.Timezone))
		p := openPlanJSON{InvoiceID: inv.ID, Number: inv.Number, Currency: inv.Currency, AmountDue: inv.AmountDue(today), Installments: len(inv.Plan.Installments)}
		if i, _, ok := inv.CurrentInstallment(); ok {
			on := inv.Plan.Installments[i].DueOn.String()
			p.Current, p.CurrentDueOn = i+1, &on
		}
		out.OpenPlans = append(out.OpenPlans, p)
	}
	for _, x := range f.Score.Factors {
		out.Factors = append(out.Factors, scoreFactorJSON(x))
	}
	for _, p := range f.OpenPromises {
		out.OpenPromises = append(out.OpenPromises, toPromiseJSON(p))
	}
	for i := range f.LastContacts {
		out.LastContacts = append(out.LastContacts, toContactJSON(&f.LastContacts[i]))
	}
	return http.StatusOK, out, nil
}

// creditFileJSON is GET /v1/customers/{id}/credit: a customer's credit in one read.
type creditFileJSON struct {
	CustomerID          string            `json:"customer_id"`
	Currency            string            `json:"currency"`
	PaymentTermsDays    int               `json:"payment_terms_days"`
	CreditLimit         *int64            `json:"credit_limit"`
	Exposure            map[string]int64  `json:"exposure"`
	Overdue             map[string]int64  `json:"overdue"`
	Credit              map[string]int64  `json:"credit"`
	Headroom            *int64            `json:"headroom"` // limit less exposure in the customer's currency
	CreditHold          bool              `json:"credit_hold"`
	HoldReason          *string           `json:"hold_reason"`
	Paused              bool              `json:"paused"`
	PauseReason         *string           `json:"pause_reason"`
	Score               int               `json:"score"`
	Grade               string            `json:"grade"`
	Factors             []scoreFactorJSON `json:"factors"`
	OnTimeStreak        int               `json:"on_time_streak"`
	AvgDaysLate         float64           `json:"avg_days_late"`
	WorstDaysLate       int               `json:"worst_days_late"`
	SettledLast12Months int               `json:"settled_last_12_months"`
	OpenPromises        []promiseJSON     `json:"open_promises"`
	OpenPlans           []openPlanJSON    `json:"open_plans"`
	OpenDisputes        int               `json:"open_disputes"`
	LastContacts        []contactJSON     `json:"last_contacts"`
	Suggested           suggestionJSON    `json:"suggested"`
}

// suggestionJSON is the credit limit and terms the grade suggests.
type suggestionJSON struct {
	CreditLimit      *int64 `json:"credit_limit"`
	PaymentTermsDays int    `json:"payment_terms_days"`
	Explain          string `json:"explanation"`
}

// openPlanJSON is an open invoice on an installment plan.
type openPlanJSON struct {
	InvoiceID    string  `json:"invoice_id"`
	Number       string  `json:"number"`
	Currency     string  `json:"currency"`
	AmountDue    int64   `json:"amount_due"`
	Installments int     `json:"installments"`
	Current      int     `json:"current"` // 1-based; 0 when all are paid (fees remain)
	CurrentDueOn *string `json:"current_due_on"`
}

type scoreFactorJSON struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Points  int    `json:"points"`
	Explain string `json:"explanation"`
}

func (s *Server) followUps(r *http.Request, _ []byte) (int, any, error) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	var on civil.Date
	if v := r.URL.Query().Get("on"); v != "" {
		if on, err = civil.Parse(v); err != nil {
			return 0, nil, apperr.Field(apperr.BadRequest, "on", "on must be a date, YYYY-MM-DD")
		}
	}
	page, err := s.billing.FollowUps(r.Context(), r.URL.Query().Get("owner"), on, cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(page.Items, page.NextCursor, toCustomerJSON), nil
}
