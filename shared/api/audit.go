package api

import (
	"net/http"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
)

// listAudit reads the audit trail, oldest first: one entity's records
// (?entity=<id>: a customer, invoice, payment, promise, alert, key, policy
// name...) or everyone's.
func (s *Server) listAudit(r *http.Request, _ []byte) (int, any, error) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	entity := r.URL.Query().Get("entity")
	if len(entity) > 200 || strings.ContainsAny(entity, "#\x00") {
		return 0, nil, apperr.Field(apperr.BadRequest, "entity", "entity must be a record's id")
	}
	var (
		out  []*audit.Record
		next string
		more bool
	)
	// One more than asked: a next cursor only when there is more.
	err = s.policies.ListAudit(r.Context(), entity, cursor, limit+1, func(rec *audit.Record, cur string) bool {
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, rec)
		next = cur
		return true
	})
	if err != nil {
		return 0, nil, err
	}
	if !more {
		next = ""
	}
	return http.StatusOK, toList(out, next, func(r *audit.Record) *audit.Record { return r }), nil
}
