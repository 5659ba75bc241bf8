package api

import (
	"errors"
	"net/http"

	"dunlin/shared/apperr"
	"dunlin/shared/imports"
)

// maxImportBytes caps an import file: MaxRows rows of a wide ledger, and
// under Lambda's 6 MB request limit once API Gateway base64-encodes an
// .xlsx.
const maxImportBytes = 4 << 20

// importRefused is the 422 of an all-or-nothing import with bad rows: the
// usual error, and the report saying which rows and why.
type importRefused struct {
	Error  errorDetail     `json:"error"`
	Import *imports.Report `json:"import"`
}

// importFile is POST /v1/imports: a CSV or .xlsx file of customers or
// invoices in the body, upserted by external_id.
func (s *Server) importFile(r *http.Request, body []byte) (int, any, error) {
	q := r.URL.Query()
	kind, err := imports.ParseKind(q.Get("kind"))
	if err != nil {
		return 0, nil, err
	}
	var opt imports.Options
	if opt.DryRun, err = boolParam(r, "dry_run"); err != nil {
		return 0, nil, err
	}
	if opt.Partial, err = boolParam(r, "partial"); err != nil {
		return 0, nil, err
	}
	if opt.Columns, err = imports.ParseOverrides(q["map"]); err != nil {
		return 0, nil, err
	}
	if len(body) == 0 {
		return 0, nil, apperr.Field(apperr.BadRequest, "body", "send the file (CSV or .xlsx) as the request body")
	}
	im := imports.Importer{Billing: s.billing, Log: s.log}
	rep, err := im.Import(r.Context(), kind, body, opt)
	if errors.Is(err, imports.ErrRowsRefused) {
		e, _ := apperr.As(err)
		return http.StatusUnprocessableEntity, importRefused{
			Error:  errorDetail{Code: e.Code, Message: e.Message, Field: e.Field, RequestID: requestID(r.Context())},
			Import: rep,
		}, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, apperr.Field(apperr.BadRequest, name, "%s must be true or false, not %q", name, v)
	}
}
