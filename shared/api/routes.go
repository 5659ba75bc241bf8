package api

import (
	"net/http"

	"dunlin/shared/auth"
	"dunlin/shared/billing"
)

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string      // http.ServeMux pattern, e.g. /v1/invoices/{id}
	Roles   []auth.Role // roles allowed to call it; every route requires a key
	handle  handlerFunc
	secret  bool // the response holds a secret: never kept for Idempotency-Key replays
}

// handlerFunc returns the status and value to encode, or an error.
type handlerFunc func(r *http.Request, body []byte) (int, any, error)

var (
	anyRole      = []auth.Role{auth.Admin, auth.Collector, auth.Viewer, auth.Integration}
	adminOnly    = []auth.Role{auth.Admin}
	bookkeeping  = []auth.Role{auth.Admin, auth.Integration}                 // create and cancel receivables
	customerCare = []auth.Role{auth.Admin, auth.Collector, auth.Integration} // keep customer details current
	dunningWork  = []auth.Role{auth.Admin, auth.Collector}                   // decide how a customer is chased
	auditors     = []auth.Role{auth.Admin, auth.Viewer}                      // read who changed what
)

// routes is the route table: the single list the router, the access tests
// and the OpenAPI checks are built from.
func (s *Server) routes() []Route {
	return []Route{
		{"GET", "/v1/openapi.json", anyRole, s.openAPI, false},

		{"POST", "/v1/customers", bookkeeping, s.createCustomer, false},
		{"GET", "/v1/customers", anyRole, s.listCustomers, false},
		{"GET", "/v1/customers/{id}", anyRole, s.getCustomer, false},
		{"PATCH", "/v1/customers/{id}", customerCare, s.updateCustomer, false},

		{"POST", "/v1/invoices", bookkeeping, s.createInvoice, false},
		{"GET", "/v1/invoices", anyRole, s.listInvoices, false},
		{"GET", "/v1/invoices/{id}", anyRole, s.getInvoice, false},
		{"POST", "/v1/invoices/{id}/void", bookkeeping, s.voidInvoice, false},
		{"POST", "/v1/imports", bookkeeping, s.importFile, false},

		{"POST", "/v1/payments", bookkeeping, s.recordPayment, false},
		{"GET", "/v1/payments", anyRole, s.listPayments, false},
		{"GET", "/v1/payments/{id}", anyRole, s.getPayment, false},
		{"POST", "/v1/payments/{id}/allocate", bookkeeping, s.allocatePayment, false},
		{"POST", "/v1/payments/{id}/refunds", bookkeeping, s.reversePayment, false},
		{"POST", "/v1/credit-notes", bookkeeping, s.createCreditNote, false},
		{"GET", "/v1/credit-notes/{id}", anyRole, s.getCreditNote, false},
		{"GET", "/v1/customers/{id}/balance", anyRole, s.customerBalance, false},

		{"POST", "/v1/customers/{id}/promises", dunningWork, s.makePromise, false},
		{"GET", "/v1/customers/{id}/promises", anyRole, s.listPromises, false},
		{"GET", "/v1/customers/{id}/credit", anyRole, s.creditFile, false},
		{"POST", "/v1/customers/{id}/hold", adminOnly, s.holdCustomer, false},
		{"POST", "/v1/customers/{id}/release", adminOnly, s.releaseHold, false},
		{"POST", "/v1/customers/{id}/hand-off", dunningWork, s.handOff, false},
		{"POST", "/v1/customers/{id}/take-back", dunningWork, s.takeBack, false},
		{"GET", "/v1/customers/{id}/case-file", anyRole, s.caseFile, false},
		{"GET", "/v1/follow-ups", anyRole, s.followUps, false},
		{"GET", "/v1/alerts", anyRole, s.listAlerts, false},
		{"POST", "/v1/alerts/{id}/acknowledge", dunningWork, s.alertState(billing.AlertAcknowledged), false},
		{"POST", "/v1/alerts/{id}/resolve", dunningWork, s.alertState(billing.AlertResolved), false},

		{"POST", "/v1/customers/{id}/pause", dunningWork, s.pauseCustomer, false},
		{"POST", "/v1/customers/{id}/resume", dunningWork, s.resumeCustomer, false},
		{"GET", "/v1/customers/{id}/contacts", anyRole, s.listContacts, false},
		{"POST", "/v1/customers/{id}/contacts", dunningWork, s.logContact, false},
		{"POST", "/v1/invoices/{id}/dispute", customerCare, s.disputeInvoice, false},
		{"POST", "/v1/invoices/{id}/resolve", customerCare, s.resolveDispute, false},
		{"POST", "/v1/invoices/{id}/fees/{step}/waive", dunningWork, s.waiveFee, false},
		{"POST", "/v1/invoices/{id}/plan", customerCare, s.makePlan, false},

		{"GET", "/v1/policies", anyRole, s.listPolicies, false},
		{"GET", "/v1/policies/{name}", anyRole, s.getPolicy, false},
		{"PUT", "/v1/policies/{name}", adminOnly, s.putPolicy, false},
		{"GET", "/v1/templates/{language}/{tone}", anyRole, s.getTemplate, false},
		{"PUT", "/v1/templates/{language}/{tone}", adminOnly, s.putTemplate, false},
		{"DELETE", "/v1/templates/{language}/{tone}", adminOnly, s.deleteTemplate, false},
		{"GET", "/v1/templates/{language}/{tone}/preview", anyRole, s.previewTemplate, false},
		{"GET", "/v1/dunning/preview", anyRole, s.previewDunning, false},
		{"GET", "/v1/dunning/forecast", anyRole, s.forecastDunning, false},
		{"GET", "/v1/dunning/drafts", anyRole, s.listDrafts, false},
		{"POST", "/v1/dunning/drafts/{customer_id}/{day}/{kind}/approve", dunningWork, s.approveDraft, false},

		{"GET", "/v1/audit", auditors, s.listAudit, false},
		{"GET", "/v1/reports/aging", anyRole, s.agingReport, false},
		{"GET", "/v1/reports/dunning", anyRole, s.dunningEffectiveness, false},
		{"GET", "/v1/reports/promises", anyRole, s.promisesReport, false},
		{"GET", "/v1/reports/dso", anyRole, s.dsoReport, false},
		{"GET", "/v1/reports/overdue-reasons", anyRole, s.overdueReasons, false},
		{"GET", "/v1/customers/{id}/statement", anyRole, s.customerStatement, false},

		{"POST", "/v1/keys", adminOnly, s.createKey, true},
		{"GET", "/v1/keys", adminOnly, s.listKeys, false},
		{"POST", "/v1/keys/{id}/revoke", adminOnly, s.revokeKey, false},

		{"POST", "/v1/endpoints", adminOnly, s.createEndpoint, true},
		{"GET", "/v1/endpoints", adminOnly, s.listEndpoints, false},
		{"GET", "/v1/endpoints/{id}", adminOnly, s.getEndpoint, false},
		{"PATCH", "/v1/endpoints/{id}", adminOnly, s.updateEndpoint, false},
		{"DELETE", "/v1/endpoints/{id}", adminOnly, s.deleteEndpoint, false},
		{"GET", "/v1/endpoints/{id}/deliveries", adminOnly, s.endpointDeliveries, false},
		{"POST", "/v1/endpoints/{id}/test", adminOnly, s.testEndpoint, false},
	}
}

// bodyless are the write routes that take no body: one is refused (400)
// rather than ignored, so a client never believes it set something. An
// empty body or {} is fine.
var bodyless = map[string]bool{
	"POST /v1/customers/{id}/release":                            true,
	"POST /v1/customers/{id}/take-back":                          true,
	"POST /v1/customers/{id}/resume":                             true,
	"POST /v1/invoices/{id}/resolve":                             true,
	"POST /v1/alerts/{id}/acknowledge":                           true,
	"POST /v1/alerts/{id}/resolve":                               true,
	"DELETE /v1/templates/{language}/{tone}":                     true,
	"POST /v1/dunning/drafts/{customer_id}/{day}/{kind}/approve": true,
	"POST /v1/keys/{id}/revoke":                                  true,
	"POST /v1/endpoints/{id}/test":                               true,
	"DELETE /v1/endpoints/{id}":                                  true,
}

// fileRoutes take a file rather than JSON, up to a larger size than
// MaxBodyBytes.
var fileRoutes = map[string]int64{
	"POST /v1/imports": maxImportBytes,
}

// FileLimit is the largest file a route takes, or 0 for a JSON route.
func FileLimit(rt Route) int64 { return fileRoutes[rt.Method+" "+rt.Pattern] }

// Bodyless reports whether a route takes no body.
func Bodyless(rt Route) bool { return bodyless[rt.Method+" "+rt.Pattern] }

// Routes lists the route table for tests and documentation.
func (s *Server) Routes() []Route { return s.routes() }
