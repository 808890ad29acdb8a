package cloudflare

import (
	"context"
	"errors"
	"strings"
)

// Step is one write of a plan, described as the user would say it.
type Step struct {
	What string
	Do   func(ctx context.Context) error
}

// ApplyError is a plan that stopped: the error, what was applied before
// it and what was not. Nothing applied means the account is as it was.
type ApplyError struct {
	Err        error
	Applied    []string
	NotApplied []string
	// Uncertain is the write that got no readable answer (or was in
	// flight when the command was stopped): it may have been applied.
	// It is also the first of NotApplied.
	Uncertain string
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	switch {
	case len(e.Applied) > 0:
		b.WriteString("; applied: " + strings.Join(e.Applied, ", "))
	case e.Uncertain == "":
		b.WriteString("; nothing was applied")
	}
	rest := e.NotApplied
	if e.Uncertain != "" {
		b.WriteString("; may or may not have been applied (no readable answer): " + e.Uncertain)
		rest = rest[1:]
	}
	if len(rest) > 0 {
		b.WriteString("; not applied: " + strings.Join(rest, ", "))
	}
	return b.String()
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Partial: some writes were (or may have been) applied and others not.
func (e *ApplyError) Partial() bool { return len(e.Applied) > 0 || e.Uncertain != "" }

// apply runs the steps in order and stops at the first failure. It returns
// what was applied (under --dry-run: what would have been).
func (c *Client) apply(ctx context.Context, steps []Step) ([]string, error) {
	var done []string
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return done, c.stoppedBefore(err, done, steps[i:])
		}
		if err := s.Do(ctx); err != nil {
			return done, c.stopped(err, done, steps[i:])
		}
		done = append(done, s.What)
	}
	return done, nil
}

func (c *Client) stopped(err error, done []string, rest []Step) error {
	e := &ApplyError{Err: err, Applied: append([]string(nil), done...)}
	var ae *APIError
	if !c.cfg.DryRun && len(rest) > 0 && (canceled(err) || (errors.As(err, &ae) && ae.NoAnswer())) {
		e.Uncertain = rest[0].What
	}
	for _, s := range rest {
		e.NotApplied = append(e.NotApplied, s.What)
	}
	return e
}

// stoppedBefore: the command was stopped between two writes; none is in
// doubt.
func (c *Client) stoppedBefore(err error, done []string, rest []Step) error {
	e := &ApplyError{Err: err, Applied: append([]string(nil), done...)}
	for _, s := range rest {
		e.NotApplied = append(e.NotApplied, s.What)
	}
	return e
}
