// Package apperr is Dunlin's one error type: a small set of codes that every
// layer understands and that the HTTP API maps to status codes in one table.
//
// Domain and store code return *Error for anything a caller could act on
// (bad input, not found, conflict); everything else is an internal error whose
// details are logged but never shown to clients.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for callers. The string values appear in API
// responses, so they are part of the public contract.
type Code string

const (
	BadRequest   Code = "bad_request"  // malformed request: bad JSON, wrong types, unknown fields
	Invalid      Code = "invalid"      // well-formed but semantically invalid values
	Unauthorized Code = "unauthorized" // missing, unknown or revoked API key
	Forbidden    Code = "forbidden"    // the key's role may not do this
	NotFound     Code = "not_found"
	Conflict     Code = "conflict" // uniqueness or concurrent-modification clash
	TooLarge     Code = "too_large"
	Unavailable  Code = "unavailable" // a dependency is throttling or down; retry later
	Internal     Code = "internal"
)

// ErrLostRace marks a Conflict that means "someone else wrote first": an
// optimistic-locking condition failed. Re-reading and trying again can
// succeed, unlike a conflict of business rules (a duplicate number, a paid
// invoice that cannot be voided).
var ErrLostRace = errors.New("lost an optimistic-locking race")

// ErrInDoubt marks an Unavailable error from a write whose outcome is
// unknown: the request left, no answer came back, so the change may or may
// not have been made. Unlike a throttle it must not be retried blindly.
var ErrInDoubt = errors.New("the write's outcome is unknown")

// Race returns a Conflict marked with ErrLostRace.
func Race(format string, args ...any) *Error {
	return &Error{Code: Conflict, Message: fmt.Sprintf(format, args...), Err: ErrLostRace}
}

// Error is an application error. Field names the offending input field, using
// the API's JSON names, when there is one.
type Error struct {
	Code    Code
	Message string
	Field   string
	Err     error // optional cause, for logs only
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an error about one input field.
func Field(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is shorthand for an Invalid error about one field.
func Invalidf(field, format string, args ...any) *Error {
	return Field(Invalid, field, format, args...)
}

// NotFoundf is shorthand for a NotFound error.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf returns the code of err, Internal for errors that are not *Error,
// and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return CodeOf(err) == code }
