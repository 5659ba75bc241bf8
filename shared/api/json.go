package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"dunlin/shared/apperr"
)

// MaxBodyBytes caps request bodies. Customer and invoice records are a few
// kilobytes; anything near this is a mistake or an attack.
const MaxBodyBytes = 64 << 10

// maxJSONDepth bounds nesting so a deeply nested body is refused before the
// decoder recurses into it.
const maxJSONDepth = 32

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encode response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readBody reads a body capped at limit, or MaxBodyBytes when limit is 0.
// Too large is a 413 naming the body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if limit == 0 {
		limit = MaxBodyBytes
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, apperr.Field(apperr.TooLarge, "body", "request body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, apperr.Field(apperr.BadRequest, "body", "could not read the request body")
	}
	return b, nil
}

// decode reads a JSON object into dst strictly: unknown fields (including
// fields only the server may set, such as id, balance or status), wrong
// types, trailing data and excessive nesting are 400s naming the field.
func decode(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Field(apperr.BadRequest, "body", "a JSON object is required")
	}
	if depth(body) > maxJSONDepth {
		return apperr.Field(apperr.BadRequest, "body", "JSON nested deeper than %d levels", maxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return apperr.Field(apperr.BadRequest, "body", "unexpected data after the JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apperr.Field(apperr.BadRequest, "body", "the body must be a JSON object")
		}
		return apperr.Field(apperr.BadRequest, field, "%s must be %s, not a JSON %s", field, jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apperr.Field(apperr.BadRequest, "body", "malformed JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if field == "" { // a key "" names nothing a client could look for
			return apperr.Field(apperr.BadRequest, "body", "a field with an empty name is not allowed")
		}
		return apperr.Field(apperr.BadRequest, field, "unknown or read-only field %q", field)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apperr.Field(apperr.BadRequest, "body", "truncated JSON")
	}
	return apperr.Field(apperr.BadRequest, "body", "invalid JSON: %v", err)
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "*[]"):
		return "an array"
	}
	return fmt.Sprintf("a %s", goType)
}

// depth returns the maximum nesting of arrays and objects in a JSON text,
// ignoring brackets inside strings. It is linear and allocation-free.
func depth(b []byte) int {
	d, max, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			if d > max {
				max = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}
