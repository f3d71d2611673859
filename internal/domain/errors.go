// Package domain holds SendOps's domain types, its coded errors and the one
// permission table that says who may do what. It imports nothing of the
// project's own: storage, services and HTTP all depend on it.
package domain

import (
	"errors"
	"fmt"
)

// Error codes. They are mapped to HTTP statuses only at the edge (package web).
const (
	EInvalid      = "invalid"
	EUnauthorized = "unauthorized"
	EForbidden    = "forbidden"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	ETooLarge     = "too_large"
	ETooMany      = "too_many_requests"
	EInternal     = "internal"
	// EAWS: AWS refused or failed a call made for the user (the message
	// says what to do); shown as 502.
	EAWS = "aws_error"
	// ERetentionExceeded: a time range reaches back before the
	// organisation's retention window, whose data is gone; shown as 403.
	ERetentionExceeded = "retention_exceeded"
)

// Error is an error a user may see: a code and a message written for people.
// Internal failures are wrapped in EInternal errors whose message is generic;
// their cause is logged, never shown.
type Error struct {
	Code    string
	Message string
	// Field names the input field at fault, for forms; may be empty.
	Field string
	// RetryAfter is set on ETooMany errors, in whole seconds.
	RetryAfter int
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns a coded error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EInvalid error that names the form field at fault.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EInternal for an error that is not a
// domain error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message a user may see for err.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// IsNotFound reports whether err is a not-found error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENotFound }

// RetryAfter returns the RetryAfter of err's domain error, in seconds, and
// 0 when it has none.
func RetryAfter(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
