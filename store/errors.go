package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalid is returned when a record fails validation before it reaches the
// database, for example a missing id; the message names the field.
var ErrInvalid = errors.New("invalid")

// Invalidf returns an ErrInvalid error with a message saying what was wrong.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err so that Retry and WriteBehind give up on it at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether retrying the write that returned err cannot
// succeed: unknown ids, conflicts, invalid records, cancelled contexts and
// errors marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.Is(err, ErrNotFound) ||
		errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrInvalid) ||
		errors.Is(err, context.Canceled) ||
		errors.As(err, &p)
}
